"""Workers, the scheduler and a running run ride out a Redis outage; a run that waits too long
says that Redis was unavailable and what it had already sent (issue #14, item 2)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import redis
import requests

from jobs.locks import lock_holder
from portal.models.runs import FAILED, PART_SENT, RUNNING, SUCCEEDED
from tests.faults.conftest import (
    CUSTOMER_1,
    DEMO_RECORDS,
    create,
    haihai_jobs,
    load,
    parts,
    set_sandbox,
)
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.faults
OUTAGE_SECONDS = 60


def _healthy(app) -> bool:
    return app.test_client().get("/healthz").status_code == 200


def _heartbeat_age(app, run_id: str) -> float:
    beat = load(app, run_id).heartbeat_at
    return (dt.datetime.now(dt.UTC) - beat).total_seconds()


def test_worker_scheduler_and_a_running_sync_ride_out_a_60_second_redis_outage(
    faults, demo_connector, redis_server
):
    conn = redis.Redis.from_url(redis_server.url)
    scheduler = faults.start("jobs", "scheduler", "--interval", "1", name="clock")
    worker = faults.worker("--with-scheduler", name="steady")
    wait_for(lambda: _healthy(faults.app), timeout=60, interval=0.5)

    # A sync reading a slow kintone is in flight when Redis goes away.
    set_sandbox(faults.kintone_url, latency_ms=300)
    first = create(faults.app, demo_connector, CUSTOMER_1)
    wait_for(lambda: lock_holder(conn, demo_connector, "sync") == first, timeout=60)
    conn.close()
    redis_server.kill()
    down = time.monotonic()

    while time.monotonic() - down < OUTAGE_SECONDS:
        time.sleep(5)
        # Nobody quits; the run waits for Redis and its heartbeat in the database goes on, so
        # no reaper could take it for dead.
        assert worker.poll() is None, faults.log_text()
        assert scheduler.poll() is None, faults.log_text()
        assert load(faults.app, first).status == RUNNING
        assert _heartbeat_age(faults.app, first) < 3
        assert not _healthy(faults.app)

    redis_server.start()  # empty: the lock, the queue and every liveness key are gone
    up = time.monotonic()

    # The run resumes, takes its lock back and finishes with every record, sent once.
    done = wait_for(lambda: (r := load(faults.app, first)).finished and r, timeout=60)
    finished_after = time.monotonic() - up
    assert done.status == SUCCEEDED, done.error_detail
    assert (done.processed, done.total) == (DEMO_RECORDS, DEMO_RECORDS)
    assert len(haihai_jobs(faults.haihai_url)) == 1
    # /healthz turns green by itself: the worker beats and the scheduler ticks again.
    wait_for(lambda: _healthy(faults.app), timeout=60, interval=0.5)
    healthy_after = time.monotonic() - up

    # New runs are taken as before, by the same worker and scheduler processes.
    set_sandbox(faults.kintone_url, latency_ms=0)
    second = create(faults.app, demo_connector, CUSTOMER_1)
    assert load(faults.app, second).status != FAILED
    again = wait_for(lambda: (r := load(faults.app, second)).finished and r, timeout=60)
    assert again.status == SUCCEEDED, again.error_detail
    assert worker.poll() is None and scheduler.poll() is None
    assert finished_after < 30 and healthy_after < 30, (finished_after, healthy_after)

    log = faults.log_text()
    assert "found an unhandled exception, quitting" not in log
    assert "worker steady: redis available again" in log
    assert "scheduler: redis available again" in log
    assert f"run.lock_regained run_id={first}" in log


def test_a_run_that_waits_too_long_for_redis_says_so_and_what_it_had_sent(
    faults, demo_connector, redis_server
):
    # 配配メール keeps the import queued: the run polls for its result when Redis goes away.
    set_sandbox(faults.haihai_url, import_delay_seconds=600)
    worker = faults.worker(name="patient", env={"PORTAL_RUN_REDIS_WAIT_SECONDS": "3"})
    run_id = create(faults.app, demo_connector, CUSTOMER_1)

    def sent_job() -> str | None:
        sent = [p for p in parts(faults.app, run_id) if p.state == PART_SENT]
        return sent[0].job_id if sent else None

    job_id = wait_for(sent_job, timeout=60, interval=0.05)
    redis_server.kill()

    run = wait_for(lambda: (r := load(faults.app, run_id)).finished and r, timeout=60)
    assert (run.status, run.error_code) == (FAILED, "redis_unavailable")
    assert run.error_detail.startswith(
        "ジョブキュー（Redis）に接続できない状態が3秒以上続いたため、連携処理を中断しました。"
    )
    assert f"配配メールへの送信は完了しています（ジョブID {job_id}）。" in run.error_detail
    assert "予期しないエラー" not in run.error_detail

    # A worker started while Redis is away waits for it instead of crashing.
    late = faults.worker(name="late")
    wait_for(lambda: "worker: waiting for redis" in faults.log_text(), timeout=60)
    redis_server.start()
    wait_for(lambda: "worker: redis available after" in faults.log_text(), timeout=60)
    assert late.poll() is None, faults.log_text()
    # The worker itself survived and takes the next run once Redis is back.
    requests.post(f"{faults.haihai_url}/_sandbox/jobs/run", json={}, timeout=30).raise_for_status()
    assert worker.poll() is None, faults.log_text()
    rerun = create(faults.app, demo_connector, CUSTOMER_1)
    done = wait_for(lambda: (r := load(faults.app, rerun)).finished and r, timeout=90)
    assert done.status == SUCCEEDED, done.error_detail
    # The interrupted run's upload is reused, not sent again.
    assert [job["job_id"] for job in haihai_jobs(faults.haihai_url)] == [job_id]
