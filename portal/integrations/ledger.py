"""Daily call budgets shared by every worker: counters in Redis keyed by bucket and local day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import redis

from portal.redis_outage import through_outage

T = TypeVar("T")

JST = ZoneInfo("Asia/Tokyo")

# Reserve-then-check in one round trip so two workers can never both take the last call.
_CHARGE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and used + want > limit then
  return -1 - used
end
local now = redis.call('INCRBY', KEYS[1], want)
redis.call('EXPIREAT', KEYS[1], tonumber(ARGV[3]))
return now
"""


class BudgetExceeded(Exception):
    """Raised before a call is sent when it would exceed the bucket's daily budget."""

    def __init__(self, bucket: str, limit: int, used: int, resets_at: dt.datetime):
        self.bucket = bucket
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        super().__init__(
            f"daily budget of {limit} calls for {bucket} is used up ({used} used); "
            f"it resets at {resets_at.isoformat()}"
        )


@dataclass
class DailyLedger:
    """Counts calls per bucket per local day; `limit` None only records, never refuses.

    `outage_wait` > 0: a Redis call waits out an outage of up to that many seconds (the caller's
    request simply starts later) before the connection error is raised.
    """

    conn: redis.Redis
    prefix: str
    limit: int | None = None
    tz: dt.tzinfo = JST
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    outage_wait: float = 0.0

    def _redis(self, call: Callable[[], T], what: str) -> T:
        if self.outage_wait <= 0:
            return call()
        return through_outage(call, self.outage_wait, what=f"api budget {what}")

    def _day_bounds(self) -> tuple[str, dt.datetime]:
        local_now = self.now().astimezone(self.tz)
        day = local_now.date()
        resets_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)
        return day.isoformat(), resets_at

    def _key(self, bucket: str, day: str) -> str:
        return f"{self.prefix}:{bucket}:{day}"

    def charge(self, bucket: str, calls: int = 1) -> int:
        """Record `calls` for today; raise BudgetExceeded (recording nothing) if over the limit."""
        day, resets_at = self._day_bounds()
        # Keep the counter a day past its reset so "used yesterday" stays visible for support.
        expire_at = int((resets_at + dt.timedelta(days=1)).timestamp())
        limit = -1 if self.limit is None else self.limit
        key = self._key(bucket, day)
        result = int(
            self._redis(
                lambda: self.conn.eval(_CHARGE_SCRIPT, 1, key, calls, limit, expire_at), "charge"
            )
        )
        if result < 0:
            raise BudgetExceeded(bucket, self.limit or 0, -1 - result, resets_at)
        return result

    def refund(self, bucket: str, calls: int = 1) -> None:
        """Give back calls charged for a request that was never sent."""
        day, _ = self._day_bounds()
        key = self._key(bucket, day)
        self._redis(lambda: self.conn.decrby(key, calls), "refund")

    def used(self, bucket: str) -> int:
        """Calls recorded for `bucket` today."""
        day, _ = self._day_bounds()
        value = self.conn.get(self._key(bucket, day))
        return int(value or 0)

    def remaining(self, bucket: str) -> int | None:
        """Calls left today, or None when unlimited."""
        if self.limit is None:
            return None
        return max(0, self.limit - self.used(bucket))

    def resets_at(self) -> dt.datetime:
        """When today's budgets reset (local midnight of tomorrow)."""
        return self._day_bounds()[1]
