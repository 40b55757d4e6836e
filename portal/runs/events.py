"""The log lines of a run: one when a worker starts it, one when it ends (succeeded or failed).

Each is one structured line (portal.logs.event) carrying what an operator needs to follow a run
without opening the portal: run_id (= task_id, the タスクID users quote), connector_id,
process, trigger, processed / total, seconds and, for a failure, its error code.
"""

from __future__ import annotations

import logging

from portal.db import session_scope
from portal.logs import event
from portal.models import Run
from portal.models.common import utcnow
from portal.models.runs import SUCCEEDED

log = logging.getLogger("portal.runs")


def _seconds(start, end) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def run_started(run: Run) -> None:
    """`run.started`: a worker took the run (waited_seconds: from 「実行する」 or slot to start)."""
    event(
        log,
        "run.started",
        run_id=run.id,
        task_id=run.id,
        connector_id=run.connector_id,
        process_key=run.process_key,
        trigger=run.trigger,
        waited_seconds=_seconds(run.created_at, run.started_at),
    )


def run_ended(run_id: str) -> None:
    """`run.succeeded` (INFO) or `run.failed` (WARNING) with the counts the run row holds."""
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            return
        succeeded = run.status == SUCCEEDED
        fields = {
            "run_id": run.id,
            "task_id": run.id,
            "connector_id": run.connector_id,
            "process_key": run.process_key,
            "trigger": run.trigger,
            "status": run.status,
            "processed": run.processed,
            "total": run.total,
            "seconds": _seconds(run.started_at, run.finished_at or utcnow()),
        }
        if not succeeded:
            fields["code"] = run.error_code
    event(
        log,
        "run.succeeded" if succeeded else "run.failed",
        logging.INFO if succeeded else logging.WARNING,
        **fields,
    )
