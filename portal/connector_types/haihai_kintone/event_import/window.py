"""Which events a 差分 or 全件 import reads, and how far its watermark may move (pure, no I/O).

Times are aware datetimes with whole seconds. A window is half-open: start <= t < end.

差分 (manual 付録4.1/5.1): per stream (an event type or a Bridge form) from just after its
watermark (the newest event already in kintone); the first run from 00:00 of its own day; never
further back than 00:00 seven calendar days before the run — what lies before is the
連携除外期間. 配配メール shows events with a delay, so the run also re-reads an overlap window
behind the watermark (events there are checked against kintone, never written twice).

全件: a range entered on the 実行 page, from second 00 of the start minute to second 59 of the
end minute, at most seven calendar days (counted by date, not by 24-hour periods).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LOOKBACK_DAYS = 7  # 差分 never reads before 00:00 of the day seven days before the run
FULL_SPAN_DAYS = 7  # 全件 may cover at most seven calendar days
ONE_SECOND = dt.timedelta(seconds=1)

# The manual's message for a 全件 range longer than seven calendar days (§2.3.5, §2.3.6).
RANGE_TOO_LONG = "日時(開始、終了)の期間は7日以内にて指定してください。"
RANGE_REVERSED = "終了日時には開始日時より後の日時を指定してください。"
RANGE_INCOMPLETE = "開始日・開始時間・終了日・終了時間を指定してください。"


class RangeInvalid(ValueError):
    """A 全件 range the 実行 page refuses; `message` is shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Window:
    """What one stream of one run covers.

    `start`..`end` is the range this run imports (the 連携されたデータ it reports); `read_from`
    <= `start` adds the overlap re-read for late events; `excluded` is the inclusive 連携除外期間
    a 差分 run had to skip (None when nothing was skipped).
    """

    start: dt.datetime
    end: dt.datetime
    read_from: dt.datetime
    excluded: tuple[dt.datetime, dt.datetime] | None = None
    first_run: bool = False

    @property
    def empty(self) -> bool:
        """True when the window reads nothing."""
        return self.read_from >= self.end


def _zone(timezone: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(timezone) if isinstance(timezone, str) else timezone


def whole_second(moment: dt.datetime) -> dt.datetime:
    """`moment` without its fraction of a second."""
    return moment.replace(microsecond=0)


def midnight(day: dt.date, timezone: str | dt.tzinfo) -> dt.datetime:
    """00:00 of `day` in `timezone`."""
    return dt.datetime.combine(day, dt.time(), _zone(timezone))


def lookback_floor(now: dt.datetime, timezone: str | dt.tzinfo) -> dt.datetime:
    """00:00 of the day seven days before `now`'s day (the earliest time a 差分 run reads)."""
    today = now.astimezone(_zone(timezone)).date()
    return midnight(today - dt.timedelta(days=LOOKBACK_DAYS), timezone)


def diff_window(
    now: dt.datetime,
    watermark: dt.datetime | None,
    timezone: str | dt.tzinfo,
    overlap: dt.timedelta,
) -> Window:
    """The 差分 window of one stream for a run starting at `now`.

    `watermark` is the time of the newest event of the stream already imported (None before
    the first 差分 run). The window ends at `now` (whole seconds, exclusive).
    """
    if now.tzinfo is None or (watermark is not None and watermark.tzinfo is None):
        raise ValueError("window times must be timezone-aware")
    zone = _zone(timezone)
    end = whole_second(now).astimezone(zone)
    floor = lookback_floor(now, zone)
    if watermark is None:
        start = midnight(end.date(), zone)
        return Window(start=start, end=end, read_from=start, first_run=True)
    following = whole_second(watermark).astimezone(zone) + ONE_SECOND
    if following < floor:
        return Window(
            start=floor, end=end, read_from=floor, excluded=(following, floor - ONE_SECOND)
        )
    start = min(following, end)
    return Window(start=start, end=end, read_from=max(floor, start - overlap))


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _parse_int(value: str | None, low: int, high: int) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


@dataclass(frozen=True)
class FullRange:
    """A 全件 range as entered: dates plus hour and minute of start and end."""

    start_date: dt.date
    start_hour: int
    start_minute: int
    end_date: dt.date
    end_hour: int
    end_minute: int

    @classmethod
    def parse(
        cls,
        start_date: str | None,
        start_hour: str | None,
        start_minute: str | None,
        end_date: str | None,
        end_hour: str | None,
        end_minute: str | None,
    ) -> FullRange:
        """Read the 実行 page's inputs; RangeInvalid with the message the page shows."""
        values = (
            _parse_date(start_date),
            _parse_int(start_hour, 0, 23),
            _parse_int(start_minute, 0, 59),
            _parse_date(end_date),
            _parse_int(end_hour, 0, 23),
            _parse_int(end_minute, 0, 59),
        )
        if any(value is None for value in values):
            raise RangeInvalid(RANGE_INCOMPLETE)
        full = cls(*values)  # type: ignore[arg-type]
        full.check()
        return full

    def check(self) -> None:
        """RangeInvalid when the range is reversed or spans more than seven calendar days."""
        first = (self.start_date, self.start_hour, self.start_minute)
        last = (self.end_date, self.end_hour, self.end_minute)
        if last < first:
            raise RangeInvalid(RANGE_REVERSED)
        # The manual counts calendar days: 06-01 23:00 – 06-08 22:59 is eight days, refused.
        if (self.end_date - self.start_date).days + 1 > FULL_SPAN_DAYS:
            raise RangeInvalid(RANGE_TOO_LONG)

    def window(self, timezone: str | dt.tzinfo) -> Window:
        """The window: second 00 of the start minute up to and including second 59 of the end."""
        zone = _zone(timezone)
        start = dt.datetime.combine(
            self.start_date, dt.time(self.start_hour, self.start_minute), zone
        )
        last_minute = dt.datetime.combine(
            self.end_date, dt.time(self.end_hour, self.end_minute), zone
        )
        end = last_minute + dt.timedelta(minutes=1)
        return Window(start=start, end=end, read_from=start)

    def to_params(self) -> dict[str, str]:
        """The run parameters that store this range."""
        return {
            "start_date": self.start_date.isoformat(),
            "start_hour": str(self.start_hour),
            "start_minute": str(self.start_minute),
            "end_date": self.end_date.isoformat(),
            "end_hour": str(self.end_hour),
            "end_minute": str(self.end_minute),
        }


def advanced_watermark(
    previous: dt.datetime | None,
    in_kintone: Iterable[dt.datetime],
    not_written: Iterable[dt.datetime],
) -> dt.datetime | None:
    """The watermark after a run: only over events that are in kintone now.

    `in_kintone` are the times of the stream's events that this run wrote or found already
    imported; `not_written` those it meant to write but did not (a failed chunk, a stop). The
    watermark never passes an unwritten event, so the next 差分 run reads it again, and never
    moves backwards.
    """
    barrier = min(not_written, default=None)
    candidates = [t for t in in_kintone if barrier is None or t < barrier]
    best = max(candidates, default=None)
    if previous is None:
        return best
    if best is None:
        return previous
    return max(previous, best)


def format_detail_time(moment: dt.datetime, timezone: str | dt.tzinfo) -> str:
    """`2023-05-19 00:00:00` (メッセージ詳細 and kintone text fields)."""
    return moment.astimezone(_zone(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def format_jp_time(moment: dt.datetime, timezone: str | dt.tzinfo) -> str:
    """`2023年06月07日 20:21:04` (the 実行 page's 「… まで連携済」)."""
    return moment.astimezone(_zone(timezone)).strftime("%Y年%m月%d日 %H:%M:%S")
