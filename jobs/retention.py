"""The retention purge: delete runs older than RUN_RETENTION_DAYS, at most once an hour.

The scheduler process starts it in a background thread (`start_purge_if_due`, on every pass)
so that it never waits behind a run on the run queue and never delays a clock tick. A Redis
key with a one-hour expiry makes sure only one purge starts per hour however many schedulers
run. The purge works in short batches (portal.runs.retention), each its own transaction, and
stops after `PURGE_MAX_SECONDS`; whatever is left goes in the next hour's purge.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import redis
from flask import Flask, current_app

from portal.logs import event
from portal.queueing import job_setting
from portal.runs.retention import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_RETENTION_DAYS,
    purge_expired_runs,
    retention_cutoff,
)

log = logging.getLogger(__name__)

PURGE_DUE_KEY = "portal:retention:purge_enqueued"
PURGE_EVERY_SECONDS = 3600
PURGE_MAX_SECONDS = 600


def claim_purge_slot(conn: redis.Redis) -> bool:
    """True for the one caller per hour, across every scheduler, that should purge now."""
    return bool(conn.set(PURGE_DUE_KEY, "1", nx=True, ex=PURGE_EVERY_SECONDS))


def start_purge_if_due(
    conn: redis.Redis, app: Flask, running: threading.Thread | None
) -> threading.Thread | None:
    """Start the hourly purge in a daemon thread when due → that thread (or `running`)."""
    if running is not None and running.is_alive():
        return running
    if not claim_purge_slot(conn):
        return None

    def purge_in_app() -> None:
        with app.app_context():
            try:
                purge_runs()
            except Exception:  # noqa: BLE001 - the next hour tries again
                log.exception("run purge failed")

    thread = threading.Thread(target=purge_in_app, name="run-purge", daemon=True)
    thread.start()
    return thread


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
