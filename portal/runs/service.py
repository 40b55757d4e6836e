"""Run and schedule services: create runs (commit, then enqueue), state transitions, the
10-runs-a-day rule, schedules of a connector, and the 連携ログ query."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from portal.connector_types.registry import UnknownProcess, get_process, is_known
from portal.models import Account, Connector, Run, Schedule
from portal.models.common import utcnow
from portal.models.runs import (
    FAILED,
    MANUAL,
    QUEUED,
    RUNNING,
    SCHEDULE,
    SUCCEEDED,
    TRIGGERS,
    UNFINISHED,
)
from portal.runs import log_pages, messages
from portal.syncs.config import ScheduleSpec
from portal.syncs.context import RunFailed

log = logging.getLogger(__name__)

RUN_SYNC = "jobs.runs.run_sync"
# Error codes of runs that never reached their handler; they do not count towards daily limits.
NOT_COUNTED_CODES = ("busy", "daily_limit", "not_started", "enqueue_failed", "not_available")


def job_id_for(run_id: str) -> str:
    """The RQ job id carrying run `run_id` (one job per run)."""
    return f"run-{run_id}"


def connector_timezone(session: Session, connector_id: str, default: str = "Asia/Tokyo") -> str:
    """The time zone of the account owning `connector_id`."""
    timezone = session.exec(
        select(Account.timezone)
        .join(Connector, Connector.account_id == Account.id)
        .where(Connector.id == connector_id)
    ).first()
    return timezone or default


# --- creating and enqueueing ---------------------------------------------------------------


def enqueue_run(run_id: str, process_key: str) -> None:
    """Put run `run_id` of process `process_key` on the queue with the process's job timeout
    (its row must already be committed)."""
    from portal.queueing import enqueue

    enqueue(
        RUN_SYNC,
        run_id,
        job_id=job_id_for(run_id),
        job_timeout=get_process(process_key).job_timeout,
    )


def create_run(
    session: Session,
    connector_id: str,
    process_key: str,
    *,
    trigger: str = MANUAL,
    params: dict | None = None,
) -> Run:
    """Insert a 待機中 run, commit it, then enqueue it, and return it.

    When the process's exclusion group already has an unfinished run of this connector, the run
    is recorded at once as エラー with the manual's busy message and never enqueued (however many
    requests arrive together: the database admits one unfinished run per group). The run is
    also エラー when Redis cannot take it.
    """
    if not is_known(process_key):
        raise UnknownProcess(process_key)
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    process = get_process(process_key)
    run = Run(
        connector_id=connector_id,
        process_key=process_key,
        process_number=process.number,
        trigger=trigger,
        params=dict(params or {}),
        exclusion_group=process.group,
    )
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if not group_busy(session, connector_id, process.group):
            raise
        run = record_busy_run(session, run)
        session.commit()
        log.info(
            "run refused busy run_id=%s task_id=%s process=%s trigger=%s",
            run.id,
            run.id,
            process_key,
            trigger,
        )
        return run
    try:
        enqueue_run(run.id, process_key)
    except Exception:  # noqa: BLE001 - any Redis failure: the row says what happened
        log.exception("enqueue failed run_id=%s task_id=%s", run.id, run.id)
        mark_failed(session, run.id, messages.ENQUEUE_FAILED_MESSAGE, "enqueue_failed")
        session.refresh(run)
    log.info(
        "run created run_id=%s task_id=%s process=%s trigger=%s",
        run.id,
        run.id,
        process_key,
        trigger,
    )
    return run


def group_busy(session: Session, connector_id: str, group: str) -> bool:
    """True when the connector has an unfinished run in exclusion group `group`."""
    found = session.exec(
        select(Run.id).where(
            Run.connector_id == connector_id,
            Run.exclusion_group == group,
            col(Run.status).in_(UNFINISHED),
        )
    ).first()
    return found is not None


def record_busy_run(session: Session, refused: Run) -> Run:
    """Add (not commit) a copy of `refused` that ended at once in エラー with the busy message."""
    now = utcnow()
    run = Run(
        connector_id=refused.connector_id,
        process_key=refused.process_key,
        process_number=refused.process_number,
        trigger=refused.trigger,
        params=dict(refused.params or {}),
        exclusion_group=refused.exclusion_group,
        schedule_id=refused.schedule_id,
        scheduled_slot=refused.scheduled_slot,
        status=FAILED,
        error_code="busy",
        error_detail=messages.BUSY_MESSAGE,
        created_at=now,
        started_at=now,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    return run


def insert_scheduled_run(
    session: Session, schedule_id: int, connector_id: str, process_key: str, slot: dt.datetime
) -> Run:
    """Insert the run of one schedule slot (flushed); IntegrityError if the slot already ran or
    the process's group has an unfinished run (see `insert_busy_slot_run`)."""
    process = get_process(process_key)
    run = Run(
        connector_id=connector_id,
        process_key=process_key,
        process_number=process.number,
        trigger=SCHEDULE,
        schedule_id=schedule_id,
        scheduled_slot=slot,
        exclusion_group=process.group,
    )
    session.add(run)
    session.flush()
    return run


def insert_busy_slot_run(
    session: Session, schedule_id: int, connector_id: str, process_key: str, slot: dt.datetime
) -> Run | None:
    """After insert_scheduled_run failed: the slot's run as busy エラー (flushed), or None when
    the slot already has its run (IntegrityError if another tick records it meanwhile)."""
    taken = session.exec(
        select(Run.id).where(Run.schedule_id == schedule_id, Run.scheduled_slot == slot)
    ).first()
    if taken is not None:
        return None
    process = get_process(process_key)
    if not group_busy(session, connector_id, process.group):
        return None
    refused = Run(
        connector_id=connector_id,
        process_key=process_key,
        process_number=process.number,
        trigger=SCHEDULE,
        schedule_id=schedule_id,
        scheduled_slot=slot,
        exclusion_group=process.group,
    )
    return record_busy_run(session, refused)


# --- state transitions (used by jobs.runs) -------------------------------------------------


def claim_run(session: Session, run_id: str, worker_name: str | None) -> bool:
    """Atomically move a 待機中 run to 処理中; False when it was not 待機中 (already taken)."""
    now = utcnow()
    result = session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == QUEUED)
        .values(status=RUNNING, started_at=now, heartbeat_at=now, worker_name=worker_name)
    )
    session.commit()
    return result.rowcount == 1


def mark_failed(
    session: Session,
    run_id: str,
    message: str,
    code: str,
    *,
    processed: int | None = None,
    total: int | None = None,
    only_if_unfinished: bool = True,
) -> bool:
    """End run `run_id` in エラー with `message`; False if it had already finished."""
    now = utcnow()
    values: dict = {
        "status": FAILED,
        "error_detail": message,
        "error_code": code,
        "finished_at": now,
    }
    if processed is not None:
        values["processed"] = processed
    if total is not None:
        values["total"] = total
    statement = update(Run).where(col(Run.id) == run_id)
    if only_if_unfinished:
        statement = statement.where(col(Run.status).in_((QUEUED, RUNNING)))
    result = session.execute(statement.values(**values))
    # A run failing before it started still gets a 処理時間 (start = end).
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.started_at).is_(None))
        .values(started_at=now)
    )
    session.commit()
    return result.rowcount == 1


def mark_succeeded(
    session: Session, run_id: str, processed: int, total: int, message_detail: str | None
) -> bool:
    """End the 処理中 run `run_id` in 成功 with its counts; False (nothing changed) when the row
    is no longer 処理中 — a run declared dead stays エラー even if its process finishes later."""
    result = session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == RUNNING)
        .values(
            status=SUCCEEDED,
            processed=processed,
            total=total,
            progress=1.0,
            message_detail=message_detail,
            finished_at=utcnow(),
        )
    )
    session.commit()
    return result.rowcount == 1


def record_progress(session: Session, run_id: str, processed: int, total: int) -> None:
    """Write the counts and progress fraction of a running run."""
    fraction = min(1.0, processed / total) if total > 0 else 0.0
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == RUNNING)
        .values(processed=processed, total=total, progress=fraction, heartbeat_at=utcnow())
    )
    session.commit()


def record_heartbeat(session: Session, run_id: str) -> bool:
    """Note that the worker of a running run is alive; False when the run is not 処理中 any more."""
    result = session.execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == RUNNING)
        .values(heartbeat_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def run_status(session: Session, run_id: str) -> str | None:
    """The status of run `run_id` as stored now (None when there is no such run)."""
    return session.exec(select(Run.status).where(Run.id == run_id)).first()


# --- the 10-runs-a-day rule ----------------------------------------------------------------


def local_day_bounds(now: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the calendar day containing `now` in `timezone`."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def runs_counted_today(
    session: Session,
    connector_id: str,
    process_key: str,
    timezone: str,
    now: dt.datetime,
    exclude_run_id: str | None = None,
) -> int:
    """How many runs of the process started today (account time zone) and reached the sync."""
    start, end = local_day_bounds(now, timezone)
    query = (
        select(func.count())
        .select_from(Run)
        .where(
            col(Run.connector_id) == connector_id,
            col(Run.process_key) == process_key,
            col(Run.started_at) >= start,
            col(Run.started_at) < end,
            or_(col(Run.error_code).is_(None), col(Run.error_code).not_in(NOT_COUNTED_CODES)),
        )
    )
    if exclude_run_id:
        query = query.where(col(Run.id) != exclude_run_id)
    return session.exec(query).one()


def check_daily_limit(session: Session, run: Run, now: dt.datetime | None = None) -> None:
    """Raise RunFailed(daily_limit) when the run's process already ran its daily maximum."""
    limit = get_process(run.process_key).daily_limit
    if limit is None:
        return
    timezone = connector_timezone(session, run.connector_id)
    used = runs_counted_today(
        session, run.connector_id, run.process_key, timezone, now or utcnow(), exclude_run_id=run.id
    )
    if used >= limit:
        raise RunFailed(messages.DAILY_LIMIT_MESSAGE, code="daily_limit")


# --- schedules -----------------------------------------------------------------------------


def replace_schedules(
    session: Session, connector_id: str, specs: Mapping[str, ScheduleSpec | None]
) -> None:
    """Make `specs` the connector's complete set of schedules (not committed).

    A key mapped to None, and every existing schedule whose key is absent, is disabled. A new or
    changed spec takes effect now: its slots already past are not run.
    """
    from portal.runs.schedule_math import normalize_spec, spec_from_json, spec_to_json

    for key in specs:
        if not is_known(key):
            raise UnknownProcess(key)
    now = utcnow()
    existing = {
        s.process_key: s
        for s in session.exec(select(Schedule).where(Schedule.connector_id == connector_id)).all()
    }
    for key, schedule in existing.items():
        if specs.get(key) is None and schedule.enabled:
            schedule.enabled = False
            schedule.updated_at = now
            session.add(schedule)
    for key, spec in specs.items():
        if spec is None:
            continue
        spec = normalize_spec(spec)
        schedule = existing.get(key)
        if schedule is None:
            session.add(
                Schedule(
                    connector_id=connector_id,
                    process_key=key,
                    spec=spec_to_json(spec),
                    effective_from=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif not schedule.enabled or spec_from_json(schedule.spec) != spec:
            schedule.spec = spec_to_json(spec)
            schedule.enabled = True
            schedule.effective_from = now
            schedule.updated_at = now
            session.add(schedule)
    session.flush()


def schedules_of(session: Session, connector_id: str) -> dict[str, ScheduleSpec]:
    """The enabled schedules of a connector by process key."""
    from portal.runs.schedule_math import spec_from_json

    rows = session.exec(
        select(Schedule).where(Schedule.connector_id == connector_id, Schedule.enabled == True)  # noqa: E712
    ).all()
    return {row.process_key: spec_from_json(row.spec) for row in rows}


# --- the 連携ログ ---------------------------------------------------------------------------

# The query lives in log_pages (keyset pages, bounded count); these names are its public face.
LogRow = log_pages.LogRow
LogPage = log_pages.LogPage
log_page = log_pages.log_page

# Lists of runs never read a run's parameters (reading them would raise), so a large `params`
# never travels to a web process that shows runs.
_WITHOUT_PARAMS = defer(Run.params, raiseload=True)


def get_account_run(session: Session, account_id: int, run_id: str) -> tuple[Run, str] | None:
    """The run `run_id` with its connector name if it belongs to `account_id`, else None."""
    return session.exec(
        select(Run, Connector.name)
        .options(_WITHOUT_PARAMS)
        .join(Connector, Connector.id == Run.connector_id)
        .where(Run.id == run_id, Run.account_id == account_id)
    ).first()


def estimate_remaining(run: Run, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Estimated time left of a running run from its rate so far, or None if unknown."""
    if run.status != RUNNING or not run.started_at or run.total <= 0 or run.processed <= 0:
        return None
    elapsed = ((now or utcnow()) - run.started_at).total_seconds()
    if elapsed <= 0:
        return None
    remaining = elapsed * (run.total - run.processed) / run.processed
    return dt.timedelta(seconds=max(0, round(remaining)))
