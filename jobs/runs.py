"""Job entry points for runs: run_sync(run_id) and the reaper of runs whose worker died."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time

from flask import Flask, current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import or_
from sqlmodel import col, select

from jobs.locks import GroupLock, LockBusy, release_if_held
from portal.connector_types.loading import load_connector_config
from portal.connector_types.registry import UnknownProcess, get_process
from portal.db import session_scope
from portal.models import Run
from portal.models.common import utcnow
from portal.models.runs import QUEUED, RUNNING
from portal.queueing import get_redis, job_setting
from portal.runs import events as run_events
from portal.runs import messages
from portal.runs import service as runs_service
from portal.syncs.context import RunContext, RunFailed

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = (
    "処理時間の上限を超えたため、連携処理が中断されました。"
    "連携条件で対象データを絞り込むか、サポートにご連絡ください。"
)
# A 処理中 run whose heartbeat (every 10 s) is this old lost its worker. With dispatch_due
# reaping every minute, a dead worker's run shows エラー within 50 + 60 s < 2 minutes.
STALE_AFTER_SECONDS = 50
# A 待機中 run whose RQ job vanished (Redis flushed, enqueue lost) is failed after this long.
QUEUED_LOST_AFTER = dt.timedelta(minutes=10)


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


def _fail(run_id: str, message: str, code: str, **counts) -> None:
    with session_scope() as session:
        runs_service.mark_failed(session, run_id, message, code, **counts)
    run_events.run_ended(run_id)


def run_sync(run_id: str) -> None:
    """Worker entry point: load the run, take the exclusion lock, delegate, record the outcome."""
    app: Flask = current_app._get_current_object()
    with session_scope() as session:
        if not runs_service.claim_run(session, run_id, _worker_name()):
            log.info("run not queued any more, skipped run_id=%s task_id=%s", run_id, run_id)
            return
        run = session.get(Run, run_id)
        timezone = runs_service.connector_timezone(
            session, run.connector_id, app.config.get("PORTAL_TIMEZONE", "Asia/Tokyo")
        )
    run_events.run_started(run)

    try:
        process = get_process(run.process_key)
    except UnknownProcess:
        _fail(run_id, messages.NOT_AVAILABLE_MESSAGE, "not_available")
        return

    lock = GroupLock(
        get_redis(),
        run.connector_id,
        process.group,
        token=run_id,
        ttl=job_setting("RUN_LOCK_TTL_SECONDS", 45),
    )
    try:
        lock.acquire()
    except LockBusy as busy:
        log.info("group busy run_id=%s task_id=%s holder=%s", run_id, run_id, busy.holder)
        _fail(run_id, messages.BUSY_MESSAGE, "busy")
        return

    progress = _ProgressWriter(run_id, job_setting("RUN_PROGRESS_INTERVAL_SECONDS", 1.0))
    try:

        def beat() -> None:
            with app.app_context(), session_scope() as beat_session:
                runs_service.record_heartbeat(beat_session, run_id)

        lock.start_heartbeat(job_setting("RUN_HEARTBEAT_SECONDS", 10), on_beat=beat)
        with session_scope() as session:
            runs_service.check_daily_limit(session, run)
        context = RunContext(
            run_id=run_id,
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
        )
        outcome = process.handler(context)
        progress.flush()
        with session_scope() as session:
            runs_service.mark_succeeded(
                session, run_id, outcome.processed, outcome.total, outcome.message_detail
            )
        run_events.run_ended(run_id)
    except RunFailed as failure:
        progress.flush()
        _fail(
            run_id,
            failure.message,
            failure.code,
            processed=failure.processed if failure.processed is not None else progress.processed,
            total=failure.total if failure.total is not None else progress.total,
        )
    except JobTimeoutException:
        _fail(run_id, TIMEOUT_MESSAGE, "timeout")
        raise
    except Exception:
        log.exception("run crashed run_id=%s task_id=%s", run_id, run_id)
        _fail(run_id, messages.UNEXPECTED_MESSAGE, "unexpected")
        raise
    finally:
        lock.release()


def handle_dead_run(run_id: str, message: str = messages.WORKER_LOST_MESSAGE) -> bool:
    """End a run whose worker died in エラー and free its group lock; True if it was unfinished."""
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            return False
        connector_id, process_key = run.connector_id, run.process_key
        failed = runs_service.mark_failed(session, run_id, message, "worker_lost")
    if failed:
        try:
            group = get_process(process_key).group
        except UnknownProcess:
            group = None
        if group:
            release_if_held(get_redis(), connector_id, group, run_id)
        run_events.run_ended(run_id)
    return failed


def reap_stale_runs(now: dt.datetime | None = None) -> list[str]:
    """Fail 処理中 runs whose heartbeat stopped and 待機中 runs whose job was lost; return ids."""
    from rq.job import Job, JobStatus

    from portal.runs.service import job_id_for

    moment = now or utcnow()
    stale_after = dt.timedelta(seconds=job_setting("RUN_STALE_SECONDS", STALE_AFTER_SECONDS))
    with session_scope() as session:
        stale = session.exec(
            select(Run.id).where(
                col(Run.status) == RUNNING,
                or_(
                    col(Run.heartbeat_at) < moment - stale_after,
                    col(Run.heartbeat_at).is_(None),
                ),
            )
        ).all()
        waiting = session.exec(
            select(Run.id).where(
                col(Run.status) == QUEUED, col(Run.created_at) < moment - QUEUED_LOST_AFTER
            )
        ).all()
    reaped = [run_id for run_id in stale if handle_dead_run(run_id)]

    conn = get_redis()
    for run_id in waiting:
        try:
            status = Job.fetch(job_id_for(run_id), connection=conn).get_status(refresh=False)
        except Exception:  # noqa: BLE001 - missing or unreadable job: it will never run
            status = None
        if status in (None, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            _fail(run_id, messages.NOT_STARTED_MESSAGE, "not_started")
            reaped.append(run_id)
    return reaped


def on_work_horse_killed(job, retpid, ret_val, rusage) -> None:
    """RQ hook in the worker: a work horse died (OOM, kill -9): fail its run at once."""
    if job.func_name == "jobs.runs.run_sync" and job.args:
        handle_dead_run(str(job.args[0]))
