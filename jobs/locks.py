"""Cross-process exclusion groups (manual 付録6.3) as Redis locks with owner token, TTL, heartbeat.

One lock per (connector, group). The owner token is the run id, so whoever finds a run dead (the
worker that saw its work horse die, the reaper) can free exactly that run's lock and nothing
else. The TTL is short and a heartbeat thread renews it, so the lock of a killed worker frees
itself within a minute without anyone's help.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

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

    def release(self) -> bool:
        """Stop the heartbeat and free the lock if still ours."""
        self.stop_heartbeat()
        return bool(self.conn.eval(_RELEASE, 1, self.key, self.token))

    def start_heartbeat(self, interval: float, on_beat: Callable[[], None] | None = None) -> None:
        """Renew the lock every `interval` seconds in a daemon thread, calling `on_beat` too."""

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    if not self.refresh():
                        # Our TTL ran out (process paused?); take it back if nobody else has.
                        regained = self.conn.set(self.key, self.token, nx=True, px=self.ttl_ms)
                        log.warning(
                            "lock lost key=%s task_id=%s regained=%s",
                            self.key,
                            self.token,
                            bool(regained),
                        )
                    if on_beat is not None:
                        on_beat()
                except Exception:  # noqa: BLE001 - a failed beat must not kill the run
                    log.exception("lock heartbeat failed key=%s task_id=%s", self.key, self.token)

        self._stop.clear()
        self._thread = threading.Thread(
            target=beat, name=f"lock-heartbeat-{self.token}", daemon=True
        )
        self._thread.start()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat thread (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
