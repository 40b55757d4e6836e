"""The retention job: purge runs older than RUN_RETENTION_DAYS, at most once an hour.

`dispatch_due` (every minute) calls `enqueue_purge_if_due`; a Redis key with a one-hour expiry
makes sure only one purge is enqueued per hour however many schedulers tick. The purge itself
works in short batches (portal.runs.retention) and stops after `PURGE_MAX_SECONDS`; whatever
is left goes in the next hour's purge.
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from flask import current_app

from portal.logs import event
from portal.queueing import enqueue, job_setting
from portal.runs.retention import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_RETENTION_DAYS,
    purge_expired_runs,
    retention_cutoff,
)

log = logging.getLogger(__name__)

PURGE_FUNC = "jobs.retention.purge_runs"
PURGE_JOB_ID = "portal-purge-runs"
PURGE_DUE_KEY = "portal:retention:purge_enqueued"
PURGE_EVERY_SECONDS = 3600
PURGE_MAX_SECONDS = 600


def enqueue_purge_if_due(conn: redis.Redis) -> bool:
    """Enqueue the purge unless one was enqueued within the hour; True when enqueued."""
    if not conn.set(PURGE_DUE_KEY, "1", nx=True, ex=PURGE_EVERY_SECONDS):
        return False
    enqueue(PURGE_FUNC, job_id=PURGE_JOB_ID, job_timeout=int(PURGE_MAX_SECONDS * 2))
    return True


def purge_runs(now: str | None = None) -> int:
    """Job: delete the runs older than the kept age (batches, time-boxed); returns how many."""
    from portal.db import engine

    moment = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    days = int(current_app.config.get("RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    result = purge_expired_runs(
        engine(),
        retention_cutoff(moment, days),
        batch_size=int(job_setting("RUN_RETENTION_BATCH_SIZE", DEFAULT_BATCH_SIZE)),
        max_seconds=job_setting("RUN_RETENTION_MAX_SECONDS", PURGE_MAX_SECONDS),
    )
    # An hour without anything to purge is not worth a line outside DEBUG.
    event(
        log,
        "runs.purged",
        logging.INFO if result.deleted else logging.DEBUG,
        deleted=result.deleted,
        batches=result.batches,
        cutoff=result.cutoff.isoformat(timespec="seconds"),
        retention_days=days,
        seconds=result.seconds,
        longest_batch_seconds=result.longest_batch_seconds,
    )
    return result.deleted
