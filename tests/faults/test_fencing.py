"""A run declared dead never runs beside the next run of its group (issue #14, item 1)."""

from __future__ import annotations

import os
import signal

import pytest

from jobs.locks import lock_holder
from jobs.reaper import reap_stale_runs
from portal.models.runs import FAILED, RUNNING, SUCCEEDED
from portal.runs import messages
from tests.faults.conftest import (
    CUSTOMER_1,
    DEMO_RECORDS,
    alive,
    create,
    haihai_jobs,
    load,
    set_sandbox,
    work_horse,
)
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.faults


def test_a_paused_run_declared_dead_stops_at_its_next_write_and_stays_in_error(
    faults, demo_connector, redis_server
):
    import redis

    conn = redis.Redis.from_url(redis_server.url)
    # Slow kintone down so the run is still reading when it is paused.
    set_sandbox(faults.kintone_url, latency_ms=400)
    first = create(faults.app, demo_connector, CUSTOMER_1)
    paused_worker = faults.worker(name="paused")
    # Paused once it holds the group's lock, i.e. inside the sync, reading kintone.
    wait_for(lambda: lock_holder(conn, demo_connector, "sync") == first, timeout=30, interval=0.02)
    assert load(faults.app, first).status == RUNNING
    horse = work_horse(paused_worker)
    os.kill(horse, signal.SIGSTOP)
    try:
        # Its heartbeat stops: the reaper ends the run in エラー and frees its lock.
        def reaped() -> bool:
            with faults.app.app_context():
                reap_stale_runs()
            return load(faults.app, first).status == FAILED

        wait_for(reaped, timeout=30, interval=0.5)
        assert lock_holder(conn, demo_connector, "sync") is None

        # The same process is started again; another worker takes it and the group's lock.
        second = create(faults.app, demo_connector, CUSTOMER_1)
        assert load(faults.app, second).status == "queued"
        faults.worker(name="fresh")
        wait_for(lambda: lock_holder(conn, demo_connector, "sync") == second, timeout=30)
    finally:
        # The paused process wakes up while the second run holds the group.
        os.kill(horse, signal.SIGCONT)

    wait_for(lambda: load(faults.app, second).finished, timeout=60)
    wait_for(lambda: not alive(horse), timeout=60)
    conn.close()

    done = load(faults.app, second)
    assert done.status == SUCCEEDED, done.error_detail
    assert (done.processed, done.total) == (DEMO_RECORDS, DEMO_RECORDS)
    dead = load(faults.app, first)
    # The first run stopped at its upload: its row keeps the reaper's verdict, never 成功.
    assert dead.status == FAILED
    assert dead.error_code == "worker_lost"
    assert dead.error_detail == messages.WORKER_LOST_MESSAGE
    assert dead.message_detail is None
    # 配配メール received the second run's CSV only.
    assert len(haihai_jobs(faults.haihai_url)) == 1
    log = faults.log_text()
    assert f"run.fenced run_id={first}" in log
    assert f"run.stopped run_id={first}" in log
    assert f"run.succeeded run_id={first}" not in log
