"""The portal's RQ worker: heartbeat for /healthz, a clean DB pool per work horse, and no death
from a Redis outage.

RQ's worker quits on the first Redis error outside its dequeue loop ("found an unhandled
exception, quitting..."). Here every Redis touch point of the main loop either waits for Redis
to come back (job preparation, suspension check) or is skipped until the next loop (heartbeats,
state, registry maintenance), so a worker rides out an outage of any length and resumes. The
work horse's run carries on meanwhile: its Redis calls wait (jobs.runs), its row's heartbeat
is in the database.

RQ's scheduler child (for delayed jobs) dies with its parent: it asks the kernel for SIGTERM when
the worker dies (PR_SET_PDEATHSIG) and checks its parent on every loop, so a `kill -9` of the
worker leaves no orphan behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import time

from flask import current_app
from rq import Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from portal.redis_outage import REDIS_ERRORS, backoff_delays, through_outage

log = logging.getLogger(__name__)

# Longest wait for Redis before a dequeued job is prepared anyway (then RQ reports the error).
PREPARE_WAIT = 3600.0
_PR_SET_PDEATHSIG = 1


class PortalWorker(Worker):
    """An RQ worker that keeps a heartbeat for /healthz, gives each work horse its own DB pool
    and survives Redis outages."""

    # Back off at most this long between reconnection attempts (RQ's default is 60 s).
    max_connection_wait_time = 5.0
    _outage_since: float | None = None

    # --- liveness --------------------------------------------------------------------------

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat plus the portal's newest-worker record; skipped while Redis is away."""
        from portal.queueing import record_worker_heartbeat

        if pipeline is not None:  # part of maintain_heartbeats' pipeline, which handles errors
            super().heartbeat(timeout, pipeline)
            return
        try:
            super().heartbeat(timeout)
            record_worker_heartbeat(self.connection, self.name)
        except REDIS_ERRORS as error:
            self._redis_down(error)
            return
        self._redis_up()

    def maintain_heartbeats(self, job, execution):
        """RQ's heartbeats while a horse works; skipped while Redis is away (the horse goes on)."""
        try:
            super().maintain_heartbeats(job, execution)
            from portal.queueing import record_worker_heartbeat

            record_worker_heartbeat(self.connection, self.name)
        except REDIS_ERRORS as error:
            self._redis_down(error)
            return
        self._redis_up()

    def set_state(self, state, pipeline=None):
        """Record the worker's state; only kept locally while Redis is away."""
        try:
            super().set_state(state, pipeline)
        except REDIS_ERRORS as error:
            self._state = state
            self._redis_down(error)

    def _redis_down(self, error: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("worker %s: redis unavailable, carrying on: %s", self.name, error)

    def _redis_up(self) -> None:
        if self._outage_since is not None:
            log.warning(
                "worker %s: redis available again after %.1f s",
                self.name,
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None

    # --- the main loop's other Redis touch points --------------------------------------------

    def work(self, *args, **kwargs):
        """Wait for Redis before registering (a worker may start during an outage), then work."""
        wait_for_redis(self.connection, f"worker {self.name}")
        return super().work(*args, **kwargs)

    def check_for_suspension(self, burst: bool):
        """RQ's suspension check; while Redis is away the worker is not suspended."""
        try:
            super().check_for_suspension(burst)
        except REDIS_ERRORS as error:
            self._redis_down(error)

    def run_maintenance_tasks(self):
        """Registry clean-up; skipped while Redis is away (retried on the next loop)."""
        try:
            super().run_maintenance_tasks()
        except REDIS_ERRORS as error:
            self._redis_down(error)

    def prepare_execution(self, job):
        """Register the dequeued job as started, waiting for Redis if it just went away."""
        return through_outage(
            lambda: super(PortalWorker, self).prepare_execution(job),
            PREPARE_WAIT,
            what=f"prepare job {job.id}",
        )

    def execute_job(self, job, queue):
        """Run the job in a work horse; Redis errors in RQ's bookkeeping after it are logged
        (the run's row in the database already says what happened)."""
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS as error:
            self._redis_down(error)
            log.warning("worker %s: bookkeeping of job %s incomplete: %s", self.name, job.id, error)
            self._state = "idle"

    def teardown(self):
        """RQ's teardown; a Redis outage at shutdown is logged, not raised."""
        try:
            super().teardown()
        except REDIS_ERRORS as error:
            log.warning("worker %s: not deregistered, redis unavailable: %s", self.name, error)

    # --- work horse and scheduler child ------------------------------------------------------

    def main_work_horse(self, job, queue):
        """Entry of the forked work horse: drop the parent's pooled DB connections first."""
        from portal.db import dispose_engine

        # Sharing a socket (or a SQLite handle) with the parent after fork corrupts both sides.
        dispose_engine(current_app)
        super().main_work_horse(job, queue)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ):
        """RQ's scheduler child for delayed jobs, as one that dies with this worker."""
        self.scheduler = PortalRQScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()


def wait_for_redis(conn, who: str, cap: float = PortalWorker.max_connection_wait_time) -> None:
    """Block until Redis answers PING, retrying with a backoff of at most `cap` seconds."""
    delays = backoff_delays(first=0.5, cap=cap)
    since: float | None = None
    while True:
        try:
            conn.ping()
        except REDIS_ERRORS as error:
            if since is None:
                since = time.monotonic()
                log.warning("%s: waiting for redis: %s", who, error)
            time.sleep(next(delays))
            continue
        if since is not None:
            log.warning("%s: redis available after %.1f s", who, time.monotonic() - since)
        return


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent check in the loop remains
        log.debug("PR_SET_PDEATHSIG unavailable")


class PortalRQScheduler(RQScheduler):
    """RQ's scheduler child that stops when its worker is gone and survives Redis outages."""

    _parent_pid: int | None = None

    def start(self):
        """Fork the scheduler process (remembering who its parent is)."""
        self._parent_pid = os.getpid()
        return super().start()

    def _orphaned(self) -> bool:
        return self._parent_pid is not None and os.getppid() != self._parent_pid

    def work(self):
        """The scheduler loop of the child process."""
        die_with_parent()
        self._install_signal_handlers()
        if self._orphaned():  # the worker died before the kernel was told
            return
        born = False
        outage = False
        while not self._stop_requested and not self._orphaned():
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
            except REDIS_ERRORS as error:
                if not outage:
                    self.log.warning("scheduler child: redis unavailable, retrying: %s", error)
                outage = True
            else:
                if outage:
                    self.log.warning("scheduler child: redis available again")
                outage = False
            time.sleep(self.interval)
        self.log.info("scheduler child stopping (orphaned=%s)", self._orphaned())
        try:
            self.stop()
        except REDIS_ERRORS as error:
            self.log.warning("scheduler child: locks not released, they expire: %s", error)
