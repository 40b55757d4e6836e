"""Fencing: whether the process running a run still owns it.

A run is owned while its row is 処理中 and its exclusion lock in Redis holds its run id. A paused
or partitioned process can lose both without noticing (the reaper failed the row, the lock
expired and another run of the group took it), so every write to kintone or 配配メール and the
final row update ask `RunOwnership.check()` first; once ownership is lost it stays lost and the
handler stops at its next write.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from flask import Flask

from jobs.locks import GroupLock
from portal.db import session_scope
from portal.logs import event
from portal.models.runs import RUNNING
from portal.redis_outage import through_outage
from portal.runs import service as runs_service
from portal.syncs.context import RunFenced

log = logging.getLogger(__name__)


class RunOwnership:
    """The ownership of run `run_id` by this process (the run's WriteGuard)."""

    def __init__(self, app: Flask, lock: GroupLock, run_id: str, redis_wait: float) -> None:
        self.app = app
        self.lock = lock
        self.run_id = run_id
        self.redis_wait = redis_wait
        self.writes: Counter[str] = Counter()  # writes attempted per target
        self._lost: str | None = None
        self._mutex = threading.Lock()

    @property
    def lost_reason(self) -> str | None:
        """Why ownership was lost, or None while it holds."""
        return self._lost

    def lose(self, reason: str) -> None:
        """Record that the run is not ours any more (the first reason is kept)."""
        with self._mutex:
            if self._lost is not None:
                return
            self._lost = reason
        # Nothing is ours to keep alive any more: no lock renewal, no row heartbeat.
        self.lock.end_heartbeat()
        event(
            log,
            "run.fenced",
            logging.WARNING,
            run_id=self.run_id,
            task_id=self.run_id,
            reason=reason,
        )

    def check(self) -> None:
        """Raise RunFenced unless the row is 処理中 and the group lock holds our run id.

        An expired lock nobody else took (Redis restarted, or was away longer than the TTL) is
        taken back. While Redis is unreachable this waits up to `redis_wait` seconds and then
        lets the connection error through.
        """
        if self._lost is None:
            self._check_row()
        if self._lost is None:
            holder = through_outage(self.lock.holder, self.redis_wait, what="ownership check")
            if holder != self.run_id and not (holder is None and self.regain()):
                self.lose(f"lock held by {holder}")
        if self._lost is not None:
            raise RunFenced(self._lost)

    def before_write(self, target: str) -> None:
        """`check()`, then count one write to `target`."""
        self.check()
        with self._mutex:
            self.writes[target] += 1

    def beat(self) -> None:
        """The run's heartbeat in the database; a row no longer 処理中 means ownership is lost."""
        with self.app.app_context(), session_scope() as session:
            alive = runs_service.record_heartbeat(session, self.run_id)
        if not alive:
            self.lose("run row is no longer running")

    def regain(self) -> bool:
        """Take the expired group lock back, only while the row is still 処理中; True if held."""
        if self._lost is not None or not self.lock.take_if_free():
            return False
        if self._row_status() == RUNNING:
            event(
                log, "run.lock_regained", logging.WARNING, run_id=self.run_id, task_id=self.run_id
            )
            return True
        self.lock.release_token()
        self.lose("run row is no longer running")
        return False

    def on_lock_lost(self) -> None:
        """Heartbeat callback: the lock could not be renewed; regain it or give the run up."""
        if not self.regain() and self._lost is None:
            self.lose(f"lock held by {self.lock.holder()}")

    def _check_row(self) -> None:
        status = self._row_status()
        if status != RUNNING:
            self.lose(f"run row is {status}")

    def _row_status(self) -> str | None:
        with self.app.app_context(), session_scope() as session:
            return runs_service.run_status(session, self.run_id)
