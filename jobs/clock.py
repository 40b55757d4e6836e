"""The clock: rq-scheduler owns one system entry that enqueues jobs.schedule.dispatch_due every
minute. This is the only module that knows rq-scheduler; replacing it (e.g. by RQ's own cron)
means rewriting this file and nothing else.

A second scheduler process is harmless: rq-scheduler lets only the holder of its Redis lock move
due entries to the queue, the entry is re-armed for the next minute before the lock is released,
and dispatch_due itself creates at most one run per slot.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq_scheduler import Scheduler

from portal.queueing import DEFAULT_QUEUE, record_scheduler_tick

log = logging.getLogger(__name__)

SYSTEM_ENTRY_ID = "portal-dispatch-due"
DISPATCH_FUNC = "jobs.schedule.dispatch_due"
EVERY_MINUTE = "* * * * *"
DISPATCH_TIMEOUT = 300


@contextmanager
def _quiet_crontab() -> Iterator[None]:
    # rq-scheduler calls crontab without default_utc; the notice about that future default is
    # irrelevant here because the entry fires on every minute boundary in any zone.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"rq_scheduler\..*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"rq_scheduler\..*")
        yield


class PortalScheduler(Scheduler):
    """rq-scheduler that records each loop as the scheduler's tick and keeps its entry armed."""

    def heartbeat(self) -> None:
        """Extend the scheduler's key and record the tick read by /healthz."""
        super().heartbeat()
        record_scheduler_tick(self.connection)

    def enqueue_jobs(self):
        """Re-arm the system entry if it vanished (Redis flushed), then move due jobs."""
        ensure_system_entry(self)
        with _quiet_crontab():
            return super().enqueue_jobs()


def make_scheduler(conn: redis.Redis, interval: float = 5.0) -> PortalScheduler:
    """A scheduler on `conn` polling every `interval` seconds."""
    return PortalScheduler(queue_name=DEFAULT_QUEUE, connection=conn, interval=interval)


def ensure_system_entry(scheduler: Scheduler) -> bool:
    """Register the every-minute dispatch entry unless present; True when it was added."""
    if SYSTEM_ENTRY_ID in scheduler:
        return False
    with _quiet_crontab():
        scheduler.cron(
            EVERY_MINUTE,
            func=DISPATCH_FUNC,
            id=SYSTEM_ENTRY_ID,
            queue_name=DEFAULT_QUEUE,
            timeout=DISPATCH_TIMEOUT,
            use_local_timezone=False,
        )
    log.info("clock entry registered id=%s func=%s", SYSTEM_ENTRY_ID, DISPATCH_FUNC)
    return True


def system_entry_due_at(conn: redis.Redis):
    """When the dispatch entry fires next (aware UTC), or None if it is not registered."""
    import datetime as dt

    score = conn.zscore(Scheduler.scheduled_jobs_key, SYSTEM_ENTRY_ID)
    return None if score is None else dt.datetime.fromtimestamp(score, dt.UTC)


def run_clock(conn: redis.Redis, interval: float = 5.0, burst: bool = False) -> None:
    """Run the scheduler loop in the foreground (until a signal, or one pass with `burst`)."""
    scheduler = make_scheduler(conn, interval)
    ensure_system_entry(scheduler)
    record_scheduler_tick(conn)
    scheduler.run(burst=burst)
