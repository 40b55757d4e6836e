"""The clock: rq-scheduler owns one system entry that fires jobs.schedule.dispatch_due every
minute. This is the only module that knows rq-scheduler; replacing it (e.g. by RQ's own cron)
means rewriting this file and nothing else.

Housekeeping never waits behind a run: the scheduler process executes the tick itself instead of
putting it on the queue the runs use (with one busy worker it would wait for hours), it reaps
runs of dead workers on every loop, and it starts the hourly run purge in a thread of its own. It rides out a Redis outage: every Redis error is retried
with backoff, so the clock resumes by itself once Redis answers again.

A second scheduler process is harmless: rq-scheduler lets only the holder of its Redis lock move
due entries, the entry is re-armed for the next minute before the tick runs, dispatch_due
creates at most one run per slot, and reaping is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import current_app
from rq_scheduler import Scheduler
from rq_scheduler.utils import get_next_scheduled_time, to_unix

from jobs.retention import PURGE_MAX_SECONDS, start_purge_if_due
from portal.logs import event
from portal.queueing import DEFAULT_QUEUE, record_scheduler_tick
from portal.redis_outage import REDIS_ERRORS, backoff_delays

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
    """rq-scheduler that records its ticks, runs the dispatch tick and the reaper in-process and
    survives Redis outages."""

    purge_thread: threading.Thread | None = None

    def heartbeat(self) -> None:
        """Extend the scheduler's key and record the tick read by /healthz."""
        super().heartbeat()
        record_scheduler_tick(self.connection)

    def enqueue_jobs(self):
        """Re-arm the system entry if it vanished (Redis flushed), then handle due entries."""
        ensure_system_entry(self)
        with _quiet_crontab():
            return super().enqueue_jobs()

    def enqueue_job(self, job):
        """Run the due dispatch entry here (re-armed first); other entries go to their queue."""
        if job.id != SYSTEM_ENTRY_ID:
            return super().enqueue_job(job)
        with _quiet_crontab():
            due = get_next_scheduled_time(
                job.meta.get("cron_string") or EVERY_MINUTE, use_local_timezone=False
            )
        self.connection.zadd(self.scheduled_jobs_key, {job.id: to_unix(due)})
        run_tick()
        return None

    def _install_signal_handlers(self) -> None:
        # rq-scheduler's handlers talk to Redis inside the signal handler, which fails while
        # Redis is away; leave cleanly and tidy up in run()'s `finally` instead.
        def stop(signum, frame):
            log.info("scheduler stopping on signal %s", signum)
            raise SystemExit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def run(self, burst: bool = False) -> None:
        """Loop until a signal (one pass with `burst`): heartbeat, due entries, reaping."""
        self._install_signal_handlers()
        born = False
        outage_since: float | None = None
        delays = backoff_delays(first=0.5, cap=5.0)
        try:
            while True:
                started = time.monotonic()
                try:
                    if not born:
                        self.register_birth()
                        born = True
                    self._one_pass()
                except REDIS_ERRORS as error:
                    if burst:
                        raise
                    if outage_since is None:
                        outage_since = started
                        log.warning("scheduler: redis unavailable, retrying: %s", error)
                    time.sleep(next(delays))
                    continue
                if outage_since is not None:
                    log.warning(
                        "scheduler: redis available again after %.1f s",
                        time.monotonic() - outage_since,
                    )
                    outage_since = None
                    delays = backoff_delays(first=0.5, cap=5.0)
                if burst:
                    break
                time.sleep(max(0.0, self._interval - (time.monotonic() - started)))
        finally:
            if burst and self.purge_thread is not None:
                # One pass on the command line finishes its purge (each batch is atomic, so a
                # long-running scheduler stopped by a signal simply leaves the rest for later).
                self.purge_thread.join(timeout=PURGE_MAX_SECONDS * 2)
            with contextlib.suppress(Exception):
                self.remove_lock()
            if born:
                with contextlib.suppress(Exception):
                    self.register_death()

    def _one_pass(self) -> None:
        self.heartbeat()
        if self.acquire_lock():
            try:
                self.enqueue_jobs()
            finally:
                self.remove_lock()
        else:
            log.debug("scheduler lock held by another scheduler, skipping this pass")
        reap()
        self.purge_thread = start_purge_if_due(
            self.connection, current_app._get_current_object(), self.purge_thread
        )


def run_tick() -> None:
    """The every-minute tick: dispatch due timed runs (and reap), never letting an error out."""
    from jobs.schedule import dispatch_due

    try:
        created = dispatch_due()
    except REDIS_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - a broken tick must not stop the clock
        log.exception("clock tick failed")
        return
    event(log, "clock.tick", logging.INFO if created else logging.DEBUG, dispatched=len(created))


def reap() -> None:
    """Fail runs of dead workers and requeue lost jobs (jobs.reaper), every scheduler pass."""
    from jobs.reaper import reap_stale_runs

    try:
        reaped = reap_stale_runs()
    except REDIS_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - reaping must never stop the clock
        log.exception("reaping stale runs failed")
        return
    if reaped:
        event(log, "runs.reaped", logging.WARNING, runs=",".join(reaped))


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
    make_scheduler(conn, interval).run(burst=burst)
