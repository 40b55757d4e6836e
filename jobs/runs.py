"""The job entry point of every run: run_sync(run_id).

It claims the run's row, takes the exclusion lock of the process's group, hands the handler a
RunContext whose guard fences every write (jobs.ownership), and records the outcome only while
the run is still this process's. What happens to runs whose process died is in jobs.reaper.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from flask import Flask, current_app
from rq.timeouts import JobTimeoutException

from jobs.locks import GroupLock, LockBusy
from jobs.ownership import RunOwnership
from portal.connector_types.loading import load_connector_config
from portal.connector_types.registry import UnknownProcess, get_process
from portal.db import session_scope
from portal.logs import event
from portal.models import Run
from portal.models.common import utcnow
from portal.queueing import get_redis, job_setting
from portal.redis_outage import REDIS_ERRORS, through_outage
from portal.runs import events as run_events
from portal.runs import messages
from portal.runs import service as runs_service
from portal.runs.parts import DatabasePartJournal, describe_parts, parts_of
from portal.syncs.context import RunContext, RunFailed, RunFenced

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = messages.TIMEOUT_MESSAGE
# How long a running run waits for an unreachable Redis (lock, API budget, ownership checks)
# before it ends in エラー saying so. Longer than a Redis restart or failover takes.
REDIS_WAIT_SECONDS = 300


def _worker_name() -> str:
    return os.environ.get("RQ_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"


class _ProgressWriter:
    """Writes progress to the run row at most once per `interval` seconds (and on flush)."""

    def __init__(self, run_id: str, interval: float = 1.0) -> None:
        self.run_id = run_id
        self.interval = interval
        self.processed = 0
        self.total = 0
        self._written_at = 0.0
        self._dirty = False

    def __call__(self, processed: int, total: int) -> None:
        self.processed, self.total = int(processed), int(total)
        self._dirty = True
        if time.monotonic() - self._written_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        if not self._dirty:
            return
        with session_scope() as session:
            runs_service.record_progress(session, self.run_id, self.processed, self.total)
        self._written_at = time.monotonic()
        self._dirty = False


def _load_config_for(connector_id: str):
    def load():
        try:
            with session_scope() as session:
                config = load_connector_config(session, connector_id)
        except LookupError as error:  # the connector or its settings are gone
            raise RunFailed(messages.SETTINGS_MISSING_MESSAGE, code="settings") from error
        if config is None:
            raise RunFailed(messages.SETTINGS_MISSING_MESSAGE, code="settings")
        return config

    return load


def _fail(run_id: str, message: str, code: str, **counts) -> bool:
    """End run `run_id` in エラー unless it already ended; True when this call ended it."""
    with session_scope() as session:
        failed = runs_service.mark_failed(session, run_id, message, code, **counts)
    if failed:
        run_events.run_ended(run_id)
    else:
        event(log, "run.outcome_not_recorded", run_id=run_id, task_id=run_id, code=code)
    return failed


def written_details(run_id: str, ownership: RunOwnership) -> str:
    """What a run cut short had sent to kintone and 配配メール, for its エラー詳細."""
    with session_scope() as session:
        parts = parts_of(session, run_id)
    haihai = describe_parts(parts, {})
    kintone_writes = ownership.writes["kintone"]
    # Parts in the journal say more than a count; other processes' uploads are only counted.
    uploads = 0 if parts else ownership.writes["haihai"]
    if haihai is None:
        return messages.writes_sentence(kintone_writes, uploads)
    if kintone_writes:
        return messages.writes_sentence(kintone_writes, 0) + "\n" + haihai
    return haihai


def _start(run_id: str, app: Flask) -> tuple[Run, str] | None:
    """Claim the run; (run, account time zone), or None when it was not 待機中 any more."""
    with session_scope() as session:
        if not runs_service.claim_run(session, run_id, _worker_name()):
            log.info("run not queued any more, skipped run_id=%s task_id=%s", run_id, run_id)
            return None
        run = session.get(Run, run_id)
        timezone = runs_service.connector_timezone(
            session, run.connector_id, app.config.get("PORTAL_TIMEZONE", "Asia/Tokyo")
        )
    run_events.run_started(run)
    return run, timezone


def _process_of(run: Run):
    """The run's process with its handler, or None after ending the run in エラー."""
    try:
        process = get_process(run.process_key)
    except UnknownProcess:
        process = None
    if process is None or process.handler is None:
        _fail(run.id, messages.NOT_AVAILABLE_MESSAGE, "not_available")
        return None
    return process


def _take_lock(run: Run, group: str, redis_wait: float) -> GroupLock | None:
    """The run's group lock, taken; None after ending the run in エラー (busy, no Redis)."""
    lock = GroupLock(
        get_redis(),
        run.connector_id,
        group,
        token=run.id,
        ttl=job_setting("RUN_LOCK_TTL_SECONDS", 45),
    )
    try:
        through_outage(lock.acquire, redis_wait, what="group lock")
    except LockBusy as busy:
        log.info("group busy run_id=%s task_id=%s holder=%s", run.id, run.id, busy.holder)
        _fail(run.id, messages.BUSY_MESSAGE, "busy")
        return None
    except REDIS_ERRORS:
        message = messages.redis_unavailable_message(redis_wait)
        _fail(run.id, messages.with_details(message, messages.NOTHING_WRITTEN), "redis_unavailable")
        return None
    return lock


def _execute(app: Flask, run: Run, process, timezone: str, ownership, progress, redis_wait):
    """Check the daily limit, run the handler, record 成功 if the run is still ours."""
    with session_scope() as session:
        runs_service.check_daily_limit(session, run)
    context = RunContext(
        run_id=run.id,
        connector_id=run.connector_id,
        process_key=run.process_key,
        process_number=run.process_number,
        trigger=run.trigger,
        params=dict(run.params or {}),
        started_at=run.started_at or utcnow(),
        timezone=timezone,
        load_config=_load_config_for(run.connector_id),
        report_progress=progress,
        redis=get_redis(),
        app_config=app.config,
        guard=ownership,
        part_journal=DatabasePartJournal(app, run.id),
        redis_wait=redis_wait,
    )
    with context.active():
        outcome = process.handler(context)
    progress.flush()
    ownership.check()  # a run declared dead while finishing must not claim success
    with session_scope() as session:
        recorded = runs_service.mark_succeeded(
            session, run.id, outcome.processed, outcome.total, outcome.message_detail
        )
    if recorded:
        run_events.run_ended(run.id)
    else:
        # Someone (the reaper) ended the row meanwhile; its verdict stands.
        event(log, "run.outcome_not_recorded", run_id=run.id, task_id=run.id, code="succeeded")


def run_sync(run_id: str) -> None:
    """Worker entry point: load the run, take the exclusion lock, delegate, record the outcome."""
    app: Flask = current_app._get_current_object()
    started = _start(run_id, app)
    if started is None:
        return
    run, timezone = started
    process = _process_of(run)
    if process is None:
        return
    redis_wait = job_setting("RUN_REDIS_WAIT_SECONDS", REDIS_WAIT_SECONDS)
    lock = _take_lock(run, process.group, redis_wait)
    if lock is None:
        return

    ownership = RunOwnership(app, lock, run_id, redis_wait)
    progress = _ProgressWriter(run_id, job_setting("RUN_PROGRESS_INTERVAL_SECONDS", 1.0))
    try:
        lock.start_heartbeat(
            job_setting("RUN_HEARTBEAT_SECONDS", 10),
            on_beat=ownership.beat,
            on_lost=ownership.on_lock_lost,
        )
        _execute(app, run, process, timezone, ownership, progress, redis_wait)
    except RunFenced as fenced:
        _stop_fenced(run_id, ownership, str(fenced))
    except RunFailed as failure:
        progress.flush()
        _fail(
            run_id,
            failure.message,
            failure.code,
            processed=failure.processed if failure.processed is not None else progress.processed,
            total=failure.total if failure.total is not None else progress.total,
        )
    except REDIS_ERRORS as error:
        event(
            log,
            "run.redis_unavailable",
            logging.ERROR,
            run_id=run_id,
            task_id=run_id,
            waited_seconds=redis_wait,
            error=str(error),
        )
        message = messages.redis_unavailable_message(redis_wait)
        _fail(
            run_id,
            messages.with_details(message, written_details(run_id, ownership)),
            "redis_unavailable",
            processed=progress.processed,
            total=progress.total,
        )
    except JobTimeoutException:
        _fail(run_id, TIMEOUT_MESSAGE, "timeout")
        raise
    except Exception:
        log.exception("run crashed run_id=%s task_id=%s", run_id, run_id)
        _fail(run_id, messages.UNEXPECTED_MESSAGE, "unexpected")
        raise
    finally:
        lock.stop_heartbeat()
        try:
            lock.release_token()
        except REDIS_ERRORS:
            log.warning("lock not released, redis unavailable (it expires) run_id=%s", run_id)


def _stop_fenced(run_id: str, ownership: RunOwnership, reason: str) -> None:
    """The run was not ours any more: write nothing, unless its row was left 処理中."""
    event(log, "run.stopped", logging.WARNING, run_id=run_id, task_id=run_id, reason=reason)
    with session_scope() as session:
        still_running = runs_service.run_status(session, run_id) == "running"
    if still_running:
        # The lock went to another run while the row was still ours: end it, saying why.
        message = messages.with_details(
            messages.LOCK_LOST_MESSAGE, written_details(run_id, ownership)
        )
        _fail(run_id, message, "lock_lost")
