"""Runs executed by real `flask jobs worker` processes against real Redis and SQLite."""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path

from rq.job import Job, JobStatus

from jobs.locks import lock_holder, lock_key
from portal.models.runs import FAILED, RUNNING, SUCCEEDED
from portal.queueing import newest_worker_heartbeat
from portal.runs import messages
from portal.runs.messages import BUSY_MESSAGE
from tests.jobs import processes
from tests.jobs.conftest import make_connector, wait_for


def create(app, connector_id: str, key: str, **params) -> str:
    from portal.db import session_scope
    from portal.runs.service import create_run

    with app.app_context(), session_scope() as session:
        return create_run(session, connector_id, key, params=params).id


def load(app, run_id: str):
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return session.get(Run, run_id)


def test_real_worker_runs_a_job_and_records_success_with_counts(jobs, connector_id, jobs_redis):
    run_id = create(jobs.app, connector_id, processes.SLEEP, seconds=0.3)
    assert load(jobs.app, run_id).status == "queued"

    jobs.burst(name="worker-a")

    run = load(jobs.app, run_id)
    assert run.status == SUCCEEDED and run.status_label == "成功"
    assert (run.processed, run.total, run.progress) == (100, 100, 1.0)
    assert run.started_at <= run.finished_at
    assert run.worker_name == "worker-a"
    assert run.error_detail is None
    assert lock_holder(jobs_redis, connector_id, "sync") is None
    name, beat = newest_worker_heartbeat(jobs_redis)
    assert name == "worker-a"
    assert dt.datetime.now(dt.UTC) - beat < dt.timedelta(seconds=30)


def test_failing_syncs_end_in_error_with_specific_messages_and_keep_the_task_id(
    jobs, connector_id, jobs_redis
):
    from portal.runs.service import job_id_for

    failing = create(jobs.app, connector_id, processes.FAIL)
    jobs.burst()
    crashing = create(jobs.app, connector_id, processes.CRASH)
    jobs.burst()

    run = load(jobs.app, failing)
    assert run.id == failing and len(run.id) == 26
    assert run.status == FAILED and run.status_label == "エラー"
    assert run.error_detail == processes.FAIL_MESSAGE
    assert (run.processed, run.total, run.error_code) == (3, 7, "failed")
    assert run.finished_at is not None
    assert Job.fetch(job_id_for(failing), connection=jobs_redis).get_status() == JobStatus.FINISHED

    # A bug: the run says so in Japanese, and the error is re-raised so RQ keeps the traceback.
    run = load(jobs.app, crashing)
    assert run.status == FAILED
    assert (run.error_detail, run.error_code) == (messages.UNEXPECTED_MESSAGE, "unexpected")
    job = Job.fetch(job_id_for(crashing), connection=jobs_redis)
    assert job.get_status() == JobStatus.FAILED
    assert "ZeroDivisionError" in job.latest_result().exc_string


def test_a_run_of_a_busy_group_is_refused_at_once_and_other_groups_run(
    jobs, connector_id, jobs_redis
):
    other_connector = make_connector(jobs.app, "HC0002")
    first = create(jobs.app, connector_id, processes.SLEEP, seconds=20)
    racer_1 = jobs.worker("--burst", name="racer-1")
    wait_for(lambda: lock_holder(jobs_redis, connector_id, "sync") == first, timeout=30)
    # While the first sync holds the group, a second run of the group is refused at once (it
    # never reaches a worker); a second worker takes the runs of other groups.
    second = create(jobs.app, connector_id, processes.SLEEP, seconds=0.2)
    assert load(jobs.app, second).status == FAILED
    reaction = create(jobs.app, connector_id, processes.SLEEP_REACTION, seconds=0.3)
    elsewhere = create(jobs.app, other_connector, processes.SLEEP, seconds=0.3)
    racer_2 = jobs.worker("--burst", name="racer-2")
    for worker in (racer_1, racer_2):
        assert worker.wait(timeout=60) == 0, jobs.log_text()

    runs = {key: load(jobs.app, key) for key in (first, second, reaction, elsewhere)}
    assert runs[first].status == SUCCEEDED
    busy = runs[second]
    assert busy.status == FAILED
    assert busy.error_detail == BUSY_MESSAGE
    assert busy.error_code == "busy"
    assert (busy.finished_at - busy.started_at) < dt.timedelta(seconds=1)
    assert (runs[first].worker_name, busy.worker_name) == ("racer-1", None)
    # Reaction history only excludes itself, and another connector has its own lock: both ran
    # while the first sync was still running.
    for other in (reaction, elsewhere):
        assert runs[other].status == SUCCEEDED
        assert runs[other].started_at < runs[first].finished_at


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_killed_worker_frees_the_lock_and_the_reaper_ends_the_run_in_error(
    jobs, connector_id, jobs_redis
):
    from jobs.schedule import dispatch_due

    run_id = create(jobs.app, connector_id, processes.SLEEP, seconds=120, steps=600)
    worker = jobs.worker(name="doomed")
    wait_for(lambda: lock_holder(jobs_redis, connector_id, "sync") == run_id, timeout=20)
    assert load(jobs.app, run_id).status == RUNNING

    # The machine dies: the worker and its work horse (its own process group) vanish at once.
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)

    # The lock's TTL (2 s here, 45 s by default) frees it without anyone's help.
    wait_for(lambda: jobs_redis.get(lock_key(connector_id, "sync")) is None, timeout=5)
    assert load(jobs.app, run_id).status == RUNNING  # nobody has noticed yet

    # Once the heartbeat is older than RUN_STALE_SECONDS, the next tick's reaper ends the run.
    wait_for(
        lambda: (
            (dt.datetime.now(dt.UTC) - load(jobs.app, run_id).heartbeat_at).total_seconds() > 3.2
        ),
        timeout=10,
    )
    with jobs.app.app_context():
        dispatch_due()
    run = load(jobs.app, run_id)
    assert run.status == FAILED
    assert run.error_detail == messages.WORKER_LOST_MESSAGE
    assert run.error_code == "worker_lost"

    # The group is usable again.
    after = create(jobs.app, connector_id, processes.SLEEP, seconds=0.1)
    jobs.burst()
    assert load(jobs.app, after).status == SUCCEEDED


def test_killed_work_horse_fails_its_run_at_once_and_releases_the_lock(
    jobs, connector_id, jobs_redis
):
    run_id = create(jobs.app, connector_id, processes.SLEEP, seconds=120, steps=600)
    worker = jobs.worker(name="survivor")
    wait_for(lambda: load(jobs.app, run_id).status == RUNNING, timeout=20)
    horses = wait_for(lambda: _children(worker.pid), timeout=5)
    assert len(horses) == 1

    os.kill(horses[0], signal.SIGKILL)  # e.g. the kernel's OOM killer

    run = wait_for(lambda: (r := load(jobs.app, run_id)).status == FAILED and r, timeout=15)
    assert run.error_detail == messages.WORKER_LOST_MESSAGE
    # The run row is committed first and the lock freed right after, in the same hook.
    wait_for(lambda: lock_holder(jobs_redis, connector_id, "sync") is None, timeout=5)
    assert worker.poll() is None  # the worker itself carries on with the next job
    after = create(jobs.app, connector_id, processes.SLEEP, seconds=0.1)
    wait_for(lambda: load(jobs.app, after).status == SUCCEEDED, timeout=20)


def test_a_run_is_executed_once_even_if_enqueued_twice(jobs, connector_id):
    from portal.queueing import enqueue

    run_id = create(jobs.app, connector_id, processes.SLEEP, seconds=0.1)
    with jobs.app.app_context():
        # A second job for the same run (e.g. an operator re-queued it) must not run it again.
        enqueue("jobs.runs.run_sync", run_id, job_id="duplicate-" + run_id)
    jobs.burst()
    run = load(jobs.app, run_id)
    assert run.status == SUCCEEDED
    assert "run not queued any more, skipped" in jobs.log_text()


def test_eleventh_run_of_a_day_limited_process_ends_in_error(jobs, connector_id):
    from portal.db import session_scope
    from portal.models import Run
    from portal.models.common import utcnow

    now = utcnow()
    with jobs.app.app_context(), session_scope() as session:
        for n in range(10):
            session.add(
                Run(
                    connector_id=connector_id,
                    process_key=processes.LIMITED,
                    status=SUCCEEDED,
                    started_at=now - dt.timedelta(seconds=n + 1),
                    finished_at=now,
                )
            )
        # Runs that never reached the sync (busy) do not use up the day's quota.
        session.add(
            Run(
                connector_id=connector_id,
                process_key=processes.LIMITED,
                status=FAILED,
                error_code="busy",
                started_at=now,
                finished_at=now,
            )
        )
    run_id = create(jobs.app, connector_id, processes.LIMITED)
    jobs.burst()
    run = load(jobs.app, run_id)
    assert run.status == FAILED
    assert run.error_detail == messages.DAILY_LIMIT_MESSAGE
    assert run.error_detail.startswith("1日に実行可能な連携回数は最大10回までとなります。")
