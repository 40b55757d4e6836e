"""Cross-process exclusion groups (manual 付録6.3) as Redis locks with owner token, TTL, heartbeat.

One lock per (connector, group). The owner token is the run id, so whoever finds a run dead (the
worker that saw its work horse die, the reaper) can free exactly that run's lock and nothing
else. The TTL is short and a heartbeat thread renews it, so the lock of a killed worker frees
itself within a minute without anyone's help.

The heartbeat never takes a lost lock back by itself: a process that was paused (SIGSTOP, a
frozen VM) may have been declared dead meanwhile. It reports the loss (`on_lost`) and lets the
run's ownership check decide (jobs.ownership), which takes the lock back only while the run's
row is still 処理中.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from portal.redis_outage import REDIS_ERRORS

log = logging.getLogger(__name__)

DEFAULT_TTL = 45.0

# Renew only while we still own the lock; never extend someone else's.
_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Delete only our own lock.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LockBusy(Exception):
    """Another run of the same exclusion group holds the lock."""

    def __init__(self, key: str, holder: str | None) -> None:
        super().__init__(f"{key} is held by {holder}")
        self.key = key
        self.holder = holder


def lock_key(connector_id: str, group: str) -> str:
    """The Redis key of the exclusion lock of `group` for `connector_id`."""
    return f"portal:lock:{connector_id}:{group}"


def release_if_held(conn: redis.Redis, connector_id: str, group: str, token: str) -> bool:
    """Delete the group lock if `token` (a run id) still holds it; True when deleted."""
    return bool(conn.eval(_RELEASE, 1, lock_key(connector_id, group), token))


def lock_holder(conn: redis.Redis, connector_id: str, group: str) -> str | None:
    """The token (run id) holding the group lock, or None when it is free."""
    value = conn.get(lock_key(connector_id, group))
    return value.decode() if value else None


class GroupLock:
    """The exclusion lock of one group of one connector, held by one run."""

    def __init__(
        self,
        conn: redis.Redis,
        connector_id: str,
        group: str,
        token: str,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.conn = conn
        self.key = lock_key(connector_id, group)
        self.token = token
        self.ttl_ms = max(1, int(ttl * 1000))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockBusy naming the current holder."""
        if not self.conn.set(self.key, self.token, nx=True, px=self.ttl_ms):
            holder = self.conn.get(self.key)
            raise LockBusy(self.key, holder.decode() if holder else None)

    def refresh(self) -> bool:
        """Renew the TTL; False when the lock is no longer ours."""
        return bool(self.conn.eval(_REFRESH, 1, self.key, self.token, self.ttl_ms))

    def holder(self) -> str | None:
        """The token holding the lock now (None when it is free)."""
        value = self.conn.get(self.key)
        return value.decode() if value else None

    def take_if_free(self) -> bool:
        """Take the lock when nobody holds it (after it expired); True when taken."""
        return bool(self.conn.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> bool:
        """Stop the heartbeat and free the lock if still ours."""
        self.stop_heartbeat()
        return self.release_token()

    def release_token(self) -> bool:
        """Free the lock if still ours (the heartbeat, if any, keeps running)."""
        return bool(self.conn.eval(_RELEASE, 1, self.key, self.token))

    def start_heartbeat(
        self,
        interval: float,
        on_beat: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        """Every `interval` seconds in a daemon thread: call `on_beat` (first, so it keeps going
        while Redis is away), then renew the lock; call `on_lost` when it is no longer ours."""

        def beat() -> None:
            unreachable = False
            while not self._stop.wait(interval):
                if on_beat is not None:
                    try:
                        on_beat()
                    except Exception:  # noqa: BLE001 - a failed beat must not kill the run
                        log.exception(
                            "run heartbeat failed key=%s task_id=%s", self.key, self.token
                        )
                try:
                    renewed = self.refresh()
                except REDIS_ERRORS as error:
                    if not unreachable:
                        log.warning(
                            "lock not renewed, redis unavailable key=%s task_id=%s error=%s",
                            self.key,
                            self.token,
                            error,
                        )
                    unreachable = True
                    continue
                if unreachable:
                    log.warning("redis available again key=%s task_id=%s", self.key, self.token)
                    unreachable = False
                if renewed:
                    continue
                log.warning("lock lost key=%s task_id=%s", self.key, self.token)
                if on_lost is not None:
                    try:
                        on_lost()
                    except Exception:  # noqa: BLE001 - reported; the next beat tries again
                        log.exception("lock loss handling failed key=%s", self.key)

        self._stop.clear()
        self._thread = threading.Thread(
            target=beat, name=f"lock-heartbeat-{self.token}", daemon=True
        )
        self._thread.start()

    def end_heartbeat(self) -> None:
        """Tell the heartbeat thread to stop after its current beat (returns at once)."""
        self._stop.set()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat thread and wait for it (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
