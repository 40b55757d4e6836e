"""With one worker busy on a hung run, the tick and the reaper still run, and the hung run ends
at its process's job timeout (issue #14, item 3)."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from jobs.clock import SYSTEM_ENTRY_ID
from portal.models.runs import FAILED, QUEUED, RUNNING, SCHEDULE, SUCCEEDED
from portal.runs import messages
from portal.syncs.config import ScheduleSpec
from tests.faults import processes as fault_processes
from tests.faults.conftest import create, load
from tests.jobs import processes
from tests.jobs.conftest import make_connector, wait_for

pytestmark = pytest.mark.faults
TOKYO = ZoneInfo("Asia/Tokyo")


def _stale_run(app, connector_id: str) -> str:
    """A 処理中 run whose worker vanished a minute ago (its heartbeat stopped then)."""
    from portal.db import session_scope
    from portal.models import Run

    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with app.app_context(), session_scope() as session:
        run = Run(
            connector_id=connector_id,
            process_key=processes.SLEEP,
            status=RUNNING,
            exclusion_group="sync",
            started_at=long_ago,
            heartbeat_at=long_ago,
        )
        session.add(run)
        session.flush()
        return run.id


def _schedule_now(app, connector_id: str) -> None:
    """A daily schedule of the test process for the current minute, saved long before."""
    from sqlalchemy import update

    from portal.db import session_scope
    from portal.models import Schedule
    from portal.runs.service import replace_schedules

    local = dt.datetime.now(TOKYO)
    spec = ScheduleSpec("daily", hours=(local.hour,), minutes=(local.minute,))
    with app.app_context(), session_scope() as session:
        replace_schedules(session, connector_id, {processes.SLEEP: spec})
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Schedule)
            .where(Schedule.connector_id == connector_id)
            .values(effective_from=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )


def _runs_of(app, connector_id: str):
    from sqlmodel import select

    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Run).where(Run.connector_id == connector_id)).all())


def test_one_worker_busy_with_a_hung_run_never_delays_the_tick_or_the_reaper(faults, redis_server):
    import redis

    conn = redis.Redis.from_url(redis_server.url)
    hung_connector = make_connector(faults.app, "HC0001")
    dead_connector = make_connector(faults.app, "HC0002")
    timed_connector = make_connector(faults.app, "HC0003")

    # The demo's shape: one worker and the clock. The worker takes a run that never finishes.
    faults.start("jobs", "scheduler", "--interval", "1", name="clock")
    faults.worker(name="only")
    wait_for(lambda: conn.zscore("rq:scheduler:scheduled_jobs", SYSTEM_ENTRY_ID), timeout=60)
    hung = create(faults.app, hung_connector, fault_processes.HANG)
    wait_for(lambda: load(faults.app, hung).status == RUNNING, timeout=60)
    hung_started = time.monotonic()
    stale = _stale_run(faults.app, dead_connector)
    _schedule_now(faults.app, timed_connector)

    # The clock fires (its entry made due now instead of waiting for the minute boundary).
    conn.zadd("rq:scheduler:scheduled_jobs", {SYSTEM_ENTRY_ID: time.time() - 1})

    # While the only worker is still busy, the dead worker's run is reaped and the timed run
    # is created; nothing of the housekeeping ever waits in the run queue.
    timed = wait_for(lambda: _runs_of(faults.app, timed_connector), timeout=20)
    assert [(r.trigger, r.status) for r in timed] == [(SCHEDULE, QUEUED)]
    reaped = wait_for(lambda: (r := load(faults.app, stale)).finished and r, timeout=20)
    assert (reaped.status, reaped.error_code) == (FAILED, "worker_lost")
    assert load(faults.app, hung).status == RUNNING
    queued = {job.func_name for job in Queue("default", connection=conn).get_jobs()}
    # Only runs wait on the run queue (the hourly purge runs in the scheduler's own thread).
    assert queued == {"jobs.runs.run_sync"}

    # The hung run ends at its process's job timeout (seconds here, hours for real syncs) …
    ended = wait_for(lambda: (r := load(faults.app, hung)).finished and r, timeout=60)
    assert (ended.status, ended.error_code) == (FAILED, "timeout")
    assert ended.error_detail == messages.TIMEOUT_MESSAGE
    assert time.monotonic() - hung_started >= fault_processes.HANG_TIMEOUT - 1
    # … and the worker goes on with the timed run.
    timed_id = timed[0].id
    done = wait_for(lambda: (r := load(faults.app, timed_id)).finished and r, timeout=60)
    assert done.status == SUCCEEDED
    conn.close()
