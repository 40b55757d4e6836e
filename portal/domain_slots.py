"""A counting semaphore per kintone domain in Redis, shared by every process of a deployment.

kintone refuses the 101st concurrent request of a domain (429 GAIA_TO04), and every connector
of one company, on every worker machine, talks to the same domain. Each request therefore holds
a *slot* of its domain while it is on the wire; a domain never has more than `limit` slots held.

Slots are members of a sorted set scored by their lease's end (Redis server time, so machines
need not agree on the clock). Taking a slot first drops expired leases, so a slot of a process
killed mid-request frees itself after `lease_seconds`; a holder that needs longer renews it.
A second key keeps the highest number of slots ever held at once, for benchmarks and operators.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

DEFAULT_LEASE_SECONDS = 120.0

# KEYS: slots, peak. ARGV: limit, lease ms, token. Returns the number held after, or 0.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
held = held + 1
if held > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], held)
end
return held
"""
# KEYS: slots. ARGV: lease ms, token. 1 when the token still held its slot (now renewed).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""
# KEYS: slots. Slots held now (expired leases not counted).
_HELD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


class SlotTimeout(Exception):
    """No slot of the domain became free in time."""


def slots_key(domain: str) -> str:
    """Redis key of the slots of kintone domain `domain` (e.g. "example.cybozu.com")."""
    return f"portal:kintone-slots:{domain.lower()}"


def peak_key(domain: str) -> str:
    """Redis key of the highest number of slots of `domain` ever held at once."""
    return f"portal:kintone-slots-peak:{domain.lower()}"


class DomainSlots:
    """The request slots of one kintone domain (at most `limit` held at once, deployment-wide)."""

    def __init__(
        self,
        conn: redis.Redis,
        domain: str,
        limit: int,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("a domain needs at least one slot")
        self.conn = conn
        self.domain = domain
        self.limit = limit
        self.key = slots_key(domain)
        self.peak_key = peak_key(domain)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._sleep = sleep
        self._acquire = conn.register_script(_ACQUIRE)
        self._renew = conn.register_script(_RENEW)
        self._held = conn.register_script(_HELD)

    def try_acquire(self) -> str | None:
        """Take a slot if one is free now; its token, or None."""
        token = uuid.uuid4().hex
        held = self._acquire(
            keys=[self.key, self.peak_key], args=[self.limit, self.lease_ms, token]
        )
        return token if held else None

    def acquire(self, timeout: float | None = None) -> str:
        """Wait for a slot (raises SlotTimeout after `timeout` seconds); its token."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        while True:
            token = self.try_acquire()
            if token is not None:
                return token
            if deadline is not None and time.monotonic() >= deadline:
                raise SlotTimeout(f"no free slot of {self.domain} within {timeout} s")
            # Jittered back-off: waiters on many machines do not retry in lock-step.
            self._sleep(pause * (0.5 + random.random()))
            pause = min(0.2, pause * 2)

    def renew(self, token: str) -> bool:
        """Extend the lease of `token`; False when it had already expired (slot lost)."""
        return bool(self._renew(keys=[self.key], args=[self.lease_ms, token]))

    def release(self, token: str) -> None:
        """Give the slot of `token` back (nothing happens if it had expired)."""
        self.conn.zrem(self.key, token)

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[str]:
        """Hold one slot for the duration of the block."""
        token = self.acquire(timeout)
        try:
            yield token
        finally:
            self.release(token)

    def held(self) -> int:
        """Slots held now (by every process)."""
        return int(self._held(keys=[self.key]))

    def peak(self) -> int:
        """The most slots ever held at once (since `reset_peak`)."""
        return int(self.conn.get(self.peak_key) or 0)

    def reset_peak(self) -> None:
        """Start counting the peak afresh."""
        self.conn.delete(self.peak_key)
