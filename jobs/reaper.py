"""Runs whose process died: the reaper (run by the scheduler process) and the worker's hook.

A 処理中 run whose heartbeat stopped ends in エラー and its group lock is freed; the row then
says what 配配メール had already received (the parts journal), with the jobs' results when
配配メール answers. A 待機中 run whose RQ job vanished (Redis restarted empty) is queued again;
one that could not start for 10 minutes ends in エラー.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from flask import current_app
from sqlmodel import col, select

from jobs.locks import release_if_held
from portal.connector_types.registry import UnknownProcess, get_process
from portal.db import session_scope
from portal.logs import event
from portal.models import Run, RunPart
from portal.models.common import utcnow
from portal.models.runs import PART_SENT, QUEUED, RUNNING, UNFINISHED
from portal.queueing import get_redis, job_setting
from portal.redis_outage import REDIS_ERRORS
from portal.runs import events as run_events
from portal.runs import messages
from portal.runs import service as runs_service
from portal.runs.parts import describe_parts, parts_of

log = logging.getLogger(__name__)

# A 処理中 run whose heartbeat (every 10 s) is this old lost its worker. The scheduler reaps
# every few seconds, so a dead worker's run shows エラー within about a minute.
STALE_AFTER_SECONDS = 50
# A 待機中 run whose RQ job vanished is queued again after this long (seconds) ...
REQUEUE_AFTER_SECONDS = 60
# ... and failed once it could not start for this long.
QUEUED_LOST_AFTER = dt.timedelta(minutes=10)


def handle_dead_run(
    run_id: str, message: str = messages.WORKER_LOST_MESSAGE, code: str = "worker_lost"
) -> bool:
    """End a run whose process died in エラー and free its group lock; True if it was unfinished.

    The message is followed by what 配配メール had already received from the run, if anything.
    """
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None or run.status not in UNFINISHED:
            return False
        connector_id, process_key = run.connector_id, run.process_key
        parts = parts_of(session, run_id)
    details = describe_parts(parts, import_results(connector_id, parts)) if parts else None
    with session_scope() as session:
        failed = runs_service.mark_failed(
            session, run_id, messages.with_details(message, details), code
        )
    if failed:
        try:
            group = get_process(process_key).group
        except UnknownProcess:
            group = None
        if group:
            try:
                release_if_held(get_redis(), connector_id, group, run_id)
            except REDIS_ERRORS:
                log.warning("lock of a dead run not released, it expires run_id=%s", run_id)
        run_events.run_ended(run_id)
    return failed


def import_results(connector_id: str, parts: Sequence[RunPart]) -> dict[str, str]:
    """A Japanese sentence per sent part's job on its result at 配配メール (those it could read)."""
    jobs = [part.job_id for part in parts if part.state == PART_SENT and part.job_id]
    if not jobs:
        return {}
    from portal.connector_types.loading import load_connector_config
    from portal.integrations.haihai import HaihaiError
    from portal.syncs.clients import INTERACTIVE, haihai_client

    try:
        with session_scope() as session:
            config = load_connector_config(session, connector_id)
        access = getattr(config, "haihai", None)
        if access is None:
            return {}
        # Short timeouts: the reaper and the worker's hook must not wait long on 配配メール.
        client = haihai_client(
            access,
            allow_local=bool(current_app.config.get("HAIHAI_ALLOW_LOCAL_URLS")),
            profile=INTERACTIVE,
        )
    except Exception:  # noqa: BLE001 - the run's row is written without the results
        log.warning("import results not readable connector_id=%s", connector_id, exc_info=True)
        return {}
    results: dict[str, str] = {}
    try:
        for job_id in jobs:
            try:
                status = client.import_status(job_id)
            except HaihaiError as error:
                log.warning("import result not readable job_id=%s error=%s", job_id, error)
                continue
            results[job_id] = describe_import_status(status)
    finally:
        client.close()
    return results


def describe_import_status(status) -> str:
    """「取込結果: …」 for a finished job, else the job's state, in Japanese."""
    result = status.result
    if result is None:
        return "配配メールで取込処理中です（処理の完了後、配配メールに反映されます）。"
    if result.state == "failed":
        return "配配メールでの取込処理がエラーになりました。"
    counts = [
        ("登録", result.inserted),
        ("更新", result.updated),
        ("削除", result.deleted),
        ("状態変更", result.state_changed),
        ("スキップ", result.skipped),
        ("エラー", result.failed),
    ]
    shown = "・".join(f"{label} {value:,}件" for label, value in counts if value)
    return f"取込結果: {result.total:,}件" + (f"（{shown}）" if shown else "") + "。"


def reap_stale_runs(now: dt.datetime | None = None) -> list[str]:
    """Fail 処理中 runs whose heartbeat stopped; queue again 待機中 runs whose job vanished and
    fail those that could not start for too long. Returns the ids of the runs failed."""
    from rq.job import Job, JobStatus

    moment = now or utcnow()
    stale_after = dt.timedelta(seconds=job_setting("RUN_STALE_SECONDS", STALE_AFTER_SECONDS))
    requeue_after = dt.timedelta(seconds=job_setting("RUN_REQUEUE_SECONDS", REQUEUE_AFTER_SECONDS))
    with session_scope() as session:
        stale = session.exec(
            select(Run.id).where(
                col(Run.status) == RUNNING,
                (col(Run.heartbeat_at) < moment - stale_after) | col(Run.heartbeat_at).is_(None),
            )
        ).all()
        waiting = session.exec(
            select(Run.id, Run.process_key, Run.created_at).where(
                col(Run.status) == QUEUED, col(Run.created_at) < moment - requeue_after
            )
        ).all()
    reaped = [run_id for run_id in stale if handle_dead_run(run_id)]

    conn = get_redis()
    for run_id, process_key, created_at in waiting:
        try:
            job = Job.fetch(runs_service.job_id_for(run_id), connection=conn)
            status = job.get_status(refresh=False)
        except REDIS_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - missing or unreadable job: it will never run
            status = None
        if created_at < moment - QUEUED_LOST_AFTER:
            if status in (None, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                with session_scope() as session:
                    failed = runs_service.mark_failed(
                        session, run_id, messages.NOT_STARTED_MESSAGE, "not_started"
                    )
                if failed:
                    run_events.run_ended(run_id)
                    reaped.append(run_id)
        elif status is None:
            # Its job was lost with Redis's data; the row is the truth, the job only transport.
            runs_service.enqueue_run(run_id, process_key)
            event(log, "run.requeued", logging.WARNING, run_id=run_id, task_id=run_id)
    return reaped


def on_work_horse_killed(job, retpid, ret_val, rusage) -> None:
    """RQ hook in the worker: a work horse died (OOM, kill -9, killed at its timeout)."""
    if job.func_name != runs_service.RUN_SYNC or not job.args:
        return
    run_id = str(job.args[0])
    try:
        started = job.started_at
        timed_out = bool(
            job.timeout
            and job.timeout > 0
            and started is not None
            and (dt.datetime.now(dt.UTC) - started).total_seconds() >= job.timeout
        )
        if timed_out:
            handle_dead_run(run_id, messages.TIMEOUT_MESSAGE, "timeout")
        else:
            handle_dead_run(run_id)
    except Exception:  # noqa: BLE001 - the worker must survive; the reaper retries later
        log.exception("dead work horse not recorded run_id=%s task_id=%s", run_id, run_id)
