"""Timed runs: the clock process, dispatch_due, one run per slot, the reaper, schedules."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlmodel import select

from jobs.clock import SYSTEM_ENTRY_ID, system_entry_due_at
from portal.connector_types.registry import UnknownProcess
from portal.models.runs import FAILED, QUEUED, SCHEDULE, SUCCEEDED
from portal.queueing import enqueue, get_redis, last_scheduler_tick
from portal.runs import messages
from portal.syncs.config import ScheduleSpec
from tests.jobs import processes

TOKYO = ZoneInfo("Asia/Tokyo")


def runs_of(app, connector_id: str):
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Run).where(Run.connector_id == connector_id)).all())


def set_schedules(app, connector_id: str, specs: dict) -> None:
    from portal.db import session_scope
    from portal.runs.service import replace_schedules

    with app.app_context(), session_scope() as session:
        replace_schedules(session, connector_id, specs)


def schedule_rows(app, connector_id: str):
    from portal.db import session_scope
    from portal.models import Schedule

    with app.app_context(), session_scope() as session:
        rows = session.exec(select(Schedule).where(Schedule.connector_id == connector_id)).all()
        return {row.process_key: row for row in rows}


def backdate_schedules(app, connector_id: str, minutes: int) -> None:
    from sqlalchemy import update

    from portal.db import session_scope
    from portal.models import Schedule

    with app.app_context(), session_scope() as session:
        session.execute(
            update(Schedule)
            .where(Schedule.connector_id == connector_id)
            .values(effective_from=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes))
        )


def daily_at(moment: dt.datetime) -> ScheduleSpec:
    local = moment.astimezone(TOKYO)
    return ScheduleSpec("daily", hours=(local.hour,), minutes=(local.minute,))


def enqueue_dispatch(app, at: dt.datetime, times: int = 1) -> None:
    with app.app_context():
        for _ in range(times):
            enqueue("jobs.schedule.dispatch_due", at.isoformat())


def test_timed_run_fires_from_a_schedule_set_one_minute_ahead(jobs, connector_id):
    from jobs.schedule import dispatch_due

    slot = (dt.datetime.now(TOKYO) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    set_schedules(jobs.app, connector_id, {processes.SLEEP: daily_at(slot)})

    # A tick now, before the slot, creates nothing.
    with jobs.app.app_context():
        assert dispatch_due() == []
    # The tick of the slot's minute (the settable clock stands in for waiting a minute), then a
    # later tick that still sees the slot inside its grace window.
    enqueue_dispatch(jobs.app, slot + dt.timedelta(seconds=3))
    enqueue_dispatch(jobs.app, slot + dt.timedelta(seconds=50))
    jobs.burst()

    runs = runs_of(jobs.app, connector_id)
    assert len(runs) == 1
    run = runs[0]
    assert run.trigger == SCHEDULE
    assert run.scheduled_slot == slot.astimezone(dt.UTC)
    assert run.status == SUCCEEDED
    assert run.schedule_id == schedule_rows(jobs.app, connector_id)[processes.SLEEP].id


def test_overlapping_dispatch_ticks_in_two_workers_create_one_run_per_slot(jobs, connector_id):
    slot = (dt.datetime.now(TOKYO) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    set_schedules(jobs.app, connector_id, {processes.SLEEP: daily_at(slot)})
    enqueue_dispatch(jobs.app, slot + dt.timedelta(seconds=1), times=4)

    workers = [jobs.worker("--burst", name=f"tick-{n}") for n in (1, 2)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0, jobs.log_text()

    runs = runs_of(jobs.app, connector_id)
    assert [(r.scheduled_slot, r.status) for r in runs] == [(slot.astimezone(dt.UTC), SUCCEEDED)], [
        (r.error_code, r.error_detail) for r in runs
    ]
    assert "slot already dispatched" in jobs.log_text()


def test_two_scheduler_processes_run_each_tick_once_and_never_queue_it(
    jobs, connector_id, jobs_redis
):
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    # A schedule for the current minute, saved well before that minute began.
    set_schedules(jobs.app, connector_id, {processes.SLEEP: daily_at(started)})
    backdate_schedules(jobs.app, connector_id, minutes=5)

    first = jobs.start("jobs", "scheduler", "--burst", "--interval", "1", name="clock-1")
    assert first.wait(timeout=60) == 0, jobs.log_text()
    # The clock registered its entry for the next minute boundary and recorded its tick.
    with jobs.app.app_context():
        due = system_entry_due_at(get_redis())
    assert due is not None and due.second == 0
    assert started < due <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    assert last_scheduler_tick(jobs_redis) >= started
    queue = Queue("default", connection=jobs_redis)
    queue.empty()  # a minute boundary may have passed while the clock started
    for log in jobs.logs.glob("*.log"):
        log.unlink()

    # Make the entry due now, then let two schedulers compete for it.
    jobs_redis.zadd("rq:scheduler:scheduled_jobs", {SYSTEM_ENTRY_ID: time.time() - 1})
    competing = time.time()
    schedulers = [
        jobs.start("jobs", "scheduler", "--burst", "--interval", "1", name=f"clock-{n}")
        for n in (2, 3)
    ]
    for scheduler in schedulers:
        assert scheduler.wait(timeout=60) == 0, jobs.log_text()

    # One tick, however many schedulers (another only if a new minute began meanwhile), run by
    # the scheduler itself: the run queue holds the timed run, never the tick.
    ticks = jobs.log_text().count("clock.tick dispatched=")
    boundaries = int(time.time() // 60) - int(competing // 60)
    assert 1 <= ticks <= 1 + boundaries, jobs.log_text()
    assert {job.func_name for job in queue.get_jobs()} == {"jobs.runs.run_sync"}
    with jobs.app.app_context():
        assert system_entry_due_at(get_redis()) > dt.datetime.now(dt.UTC)  # re-armed

    jobs.burst()
    runs = runs_of(jobs.app, connector_id)
    assert len(runs) == 1 and runs[0].trigger == SCHEDULE and runs[0].status == SUCCEEDED


def test_slot_missed_while_everything_was_stopped_is_not_run_later(jobs, connector_id):
    from jobs.schedule import dispatch_due

    slot = (dt.datetime.now(TOKYO) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    set_schedules(jobs.app, connector_id, {processes.SLEEP: daily_at(slot)})
    with jobs.app.app_context():
        assert dispatch_due((slot + dt.timedelta(minutes=10)).isoformat()) == []
        created = dispatch_due((slot + dt.timedelta(days=1, seconds=5)).isoformat())
    # The next day's slot runs normally.
    assert len(created) == 1
    assert runs_of(jobs.app, connector_id)[0].scheduled_slot == (
        slot + dt.timedelta(days=1)
    ).astimezone(dt.UTC)


def test_disabled_schedule_does_not_fire(jobs, connector_id):
    from jobs.schedule import dispatch_due

    slot = (dt.datetime.now(TOKYO) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    set_schedules(jobs.app, connector_id, {processes.SLEEP: daily_at(slot)})
    set_schedules(jobs.app, connector_id, {processes.SLEEP: None})
    with jobs.app.app_context():
        assert dispatch_due((slot + dt.timedelta(seconds=5)).isoformat()) == []


def test_replace_schedules_keeps_unchanged_specs_and_disables_absent_ones(jobs, connector_id):
    first = ScheduleSpec("daily", hours=(10,), minutes=(0,))
    set_schedules(jobs.app, connector_id, {"customer:1": first, "view_url": first})
    rows = schedule_rows(jobs.app, connector_id)
    assert {k: r.enabled for k, r in rows.items()} == {"customer:1": True, "view_url": True}
    effective = rows["customer:1"].effective_from

    changed = ScheduleSpec("weekly", weekdays=(0,), hours=(9,), minutes=(30,))
    set_schedules(jobs.app, connector_id, {"customer:1": first, "customer:2": changed})
    rows = schedule_rows(jobs.app, connector_id)
    assert rows["customer:1"].effective_from == effective  # same spec: slots keep their meaning
    assert rows["view_url"].enabled is False  # absent from the complete set
    assert rows["customer:2"].enabled and rows["customer:2"].spec["weekdays"] == [0]

    set_schedules(jobs.app, connector_id, {"customer:1": changed})
    rows = schedule_rows(jobs.app, connector_id)
    assert rows["customer:1"].effective_from > effective
    assert rows["customer:1"].spec == {
        "interval": "weekly",
        "month_days": [],
        "weekdays": [0],
        "hours": [9],
        "minutes": [30],
    }
    with pytest.raises(UnknownProcess):
        set_schedules(jobs.app, connector_id, {"nope": first})


def test_reaper_fails_a_waiting_run_whose_job_was_lost(jobs, connector_id):
    from sqlalchemy import update

    from jobs.schedule import dispatch_due
    from portal.db import session_scope
    from portal.models import Run
    from portal.runs.service import create_run

    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    with jobs.app.app_context(), session_scope() as session:
        lost = Run(connector_id=connector_id, process_key=processes.SLEEP, created_at=long_ago)
        session.add(lost)
        session.flush()
        lost_id = lost.id
        waiting_id = create_run(session, connector_id, processes.SLEEP).id
        session.execute(update(Run).where(Run.id == waiting_id).values(created_at=long_ago))
    with jobs.app.app_context():
        dispatch_due()
    runs = {r.id: r for r in runs_of(jobs.app, connector_id)}
    assert runs[lost_id].status == FAILED
    assert runs[lost_id].error_detail == messages.NOT_STARTED_MESSAGE
    assert runs[waiting_id].status == QUEUED  # its job is still in the queue: a worker will come
