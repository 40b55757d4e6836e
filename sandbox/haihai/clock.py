"""The sandbox clock (real, frozen or shifted) and JST formatting helpers.

All instants are kept as Unix seconds (int or float). 配配メール shows and accepts Japan time;
JST has no daylight saving, so a fixed +9 h offset is exact.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time

JST_OFFSET = 9 * 3600
JST = dt.timezone(dt.timedelta(hours=9), "JST")

_DATETIME_RE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


class ClockFormatError(ValueError):
    """A date/time text could not be read."""


class SandboxClock:
    """Current time for the sandbox: the real clock, a frozen instant, or real time + offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: float | None = None
        self._offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch as the sandbox sees them."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def set(self, instant: float | None, running: bool = False) -> None:
        """Freeze at `instant` (or keep ticking from it when `running`); None restores real time."""
        with self._lock:
            if instant is None:
                self._frozen = None
                self._offset = 0.0
            elif running:
                self._frozen = None
                self._offset = instant - time.time()
            else:
                self._frozen = float(instant)

    def advance(self, seconds: float) -> None:
        """Move the sandbox time forward (or back, when negative)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still until set or advanced."""
        with self._lock:
            return self._frozen is not None

    def describe(self) -> dict:
        """JSON-ready description of the clock state."""
        with self._lock:
            frozen = self._frozen
            offset = self._offset
        now = frozen if frozen is not None else time.time() + offset
        mode = "frozen" if frozen is not None else ("shifted" if offset else "real")
        return {"now": format_jst(now), "mode": mode}


def format_jst(instant: float | None) -> str | None:
    """`YYYY-MM-DD HH:MM:SS` in JST, or None for None."""
    if instant is None:
        return None
    return _format_second(int(instant))


@functools.lru_cache(maxsize=65536)
def _format_second(second: int) -> str:
    # Bulk writes share one timestamp, so list pages format the same second many times.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second + JST_OFFSET))


def jst_date(instant: float) -> str:
    """The JST calendar day of `instant` as `YYYY-MM-DD`."""
    return time.strftime("%Y-%m-%d", time.gmtime(int(instant) + JST_OFFSET))


def jst_compact(instant: float) -> str:
    """`yyyymmddhhmmss` in JST (CSV attachment names)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(int(instant) + JST_OFFSET))


def next_jst_midnight(instant: float) -> int:
    """Unix seconds of the first 00:00 JST strictly after `instant`."""
    local = int(instant) + JST_OFFSET
    return (local // 86400 + 1) * 86400 - JST_OFFSET


def parse_jst(text: str) -> int:
    """Read `YYYY-MM-DD[ HH:MM[:SS]]` (also with `/`) as JST; ISO text with an offset is honoured."""
    value = (text or "").strip()
    match = _DATETIME_RE.match(value)
    if match:
        year, month, day, hour, minute, second = match.groups()
        try:
            local = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=JST,
            )
        except ValueError as error:
            raise ClockFormatError(f"invalid date/time: {value!r}") from error
        return int(local.timestamp())
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ClockFormatError(f"invalid date/time: {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=JST)
    return int(parsed.timestamp())
