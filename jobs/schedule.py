"""`dispatch_due`, the tick the clock runs every minute (jobs.clock runs it in the scheduler).

It turns the due slots of every enabled schedule into one Run per (schedule, slot), guarded by the
unique constraint of the runs table, so overlapping ticks never run a slot twice. The schedule
maths lives in portal.runs.schedule_math.
"""

from __future__ import annotations

import datetime as dt
import logging

from portal.runs.schedule_math import due_slots, parse_now, spec_from_json

log = logging.getLogger(__name__)


def dispatch_due(now: str | None = None) -> list[str]:
    """Create and enqueue one Run per due (schedule, slot); reap runs of dead workers.

    `now` (ISO 8601 with offset) replaces the current time, for tests and demos. A slot whose
    process's group is busy gets its run as エラー with the manual's busy message. Returns the
    ids of the runs this call enqueued.
    """
    from flask import current_app

    from jobs.reaper import reap_stale_runs
    from portal.queueing import record_dispatch

    moment = parse_now(now)
    try:
        reap_stale_runs(now=moment)
    except Exception:  # noqa: BLE001 - reaping must never stop timed runs
        log.exception("reaping stale runs failed")

    default_zone = current_app.config.get("PORTAL_TIMEZONE", "Asia/Tokyo")
    created: list[str] = []
    for schedule_id, connector_id, process_key, slot in _due_slots(moment, default_zone):
        run_id = _dispatch_slot(schedule_id, connector_id, process_key, slot)
        if run_id is not None:
            created.append(run_id)
    record_dispatch(moment)
    return created


def _due_slots(moment: dt.datetime, default_zone: str) -> list[tuple[int, str, str, dt.datetime]]:
    """(schedule id, connector id, process key, slot) of every due slot of the enabled
    schedules; a schedule that cannot be evaluated is logged and skipped."""
    from sqlmodel import select

    from portal.db import session_scope
    from portal.models import Account, Connector, Schedule

    plans: list[tuple[int, str, str, dt.datetime]] = []
    with session_scope() as session:
        rows = session.exec(
            select(Schedule, Account.timezone)
            .join(Connector, Connector.id == Schedule.connector_id)
            .join(Account, Account.id == Connector.account_id)
            .where(Schedule.enabled == True)  # noqa: E712 - SQL expression
        ).all()
        for schedule, timezone in rows:
            try:
                slots = due_slots(
                    spec_from_json(schedule.spec),
                    timezone or default_zone,
                    moment,
                    schedule.effective_from,
                )
            except Exception:  # noqa: BLE001 - one broken schedule must not stop the others
                log.exception("schedule cannot be evaluated schedule_id=%s", schedule.id)
                continue
            plans.extend(
                (schedule.id, schedule.connector_id, schedule.process_key, slot) for slot in slots
            )
    return plans


def _dispatch_slot(
    schedule_id: int, connector_id: str, process_key: str, slot: dt.datetime
) -> str | None:
    """Create and enqueue the run of one slot → its id; None when another tick already made
    it, the group was busy (an エラー run) or enqueueing failed (the run marked failed)."""
    from sqlalchemy.exc import IntegrityError

    from portal.db import session_scope
    from portal.runs import messages
    from portal.runs.service import (
        enqueue_run,
        insert_busy_slot_run,
        insert_scheduled_run,
        mark_failed,
    )

    try:
        with session_scope() as session:
            run = insert_scheduled_run(session, schedule_id, connector_id, process_key, slot)
            run_id = run.id
    except IntegrityError:
        # Another tick (a second scheduler) created this slot's run, or the group is busy.
        try:
            with session_scope() as session:
                busy = insert_busy_slot_run(session, schedule_id, connector_id, process_key, slot)
                busy_id = busy.id if busy is not None else None
        except IntegrityError:
            busy_id = None
        if busy_id is None:
            log.info("slot already dispatched schedule_id=%s slot=%s", schedule_id, slot)
        else:
            log.info("slot refused, group busy run_id=%s task_id=%s", busy_id, busy_id)
        return None
    log.info(
        "dispatched run_id=%s task_id=%s schedule_id=%s process=%s slot=%s",
        run_id,
        run_id,
        schedule_id,
        process_key,
        slot.isoformat(),
    )
    try:
        enqueue_run(run_id, process_key)
    except Exception:  # noqa: BLE001 - the row says what happened
        log.exception("enqueue failed run_id=%s task_id=%s", run_id, run_id)
        with session_scope() as session:
            mark_failed(session, run_id, messages.ENQUEUE_FAILED_MESSAGE, "enqueue_failed")
        return None
    return run_id
