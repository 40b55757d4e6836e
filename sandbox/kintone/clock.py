"""A settable clock: the real time, or a frozen instant chosen through the admin API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# The sandbox's users all live in Japan: day-relative query functions use this zone.
USER_TZ = ZoneInfo("Asia/Tokyo")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 datetime; a value without offset is taken as Asia/Tokyo time."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=USER_TZ)
    return value.astimezone(UTC)


def format_minute(value: datetime) -> str:
    """kintone's wire form of an instant: UTC, minute precision, `Z` suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


class Clock:
    """Returns the current instant; `set()` freezes it (None returns to the real clock)."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def set(self, value: datetime | None) -> None:
        """Freeze the clock at `value` (aware), or follow real time when None."""
        with self._lock:
            self._frozen = value.astimezone(UTC) if value is not None else None

    @property
    def frozen(self) -> datetime | None:
        """The frozen instant, if any."""
        return self._frozen

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        frozen = self._frozen
        return frozen if frozen is not None else datetime.now(UTC)

    def timestamp(self) -> float:
        """The current instant as POSIX seconds (for expiry arithmetic)."""
        return self.now().timestamp()
