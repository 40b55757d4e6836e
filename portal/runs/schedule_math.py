"""Schedule maths (pure): the occurrences of a ScheduleSpec in a time zone (month-end, days that do not exist in
a month and local times skipped by a DST change are not run), the overlap classification used
when settings are saved (manual 付録6.3) and a merged timeline of next occurrences.
The web (settings, timeline) and the clock's `jobs.schedule.dispatch_due` both use it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from portal.connector_types.registry import process_name
from portal.syncs.config import MONTH_END, ScheduleSpec

log = logging.getLogger(__name__)

Overlap = Literal["error", "confirm", "ok"]

WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")
INTERVAL_NAMES = {
    "monthly": "毎月",
    "weekly": "毎週",
    "daily": "毎日",
    "hourly": "毎時",
    "every_30_minutes": "30分毎",
}
# A slot older than this when a tick sees it is not run: the manual's rule is that a time missed
# while the service was stopped waits for the next scheduled time. The margin only absorbs the
# clock's own jitter (a tick a few seconds after the minute, a busy worker).
DISPATCH_GRACE = dt.timedelta(minutes=2)
# Longest search for the next occurrence; every valid spec fires at least once in a year.
_HORIZON_DAYS = 400


def _as_zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def normalize_spec(spec: ScheduleSpec) -> ScheduleSpec:
    """The same spec with sorted, de-duplicated tuples and fields irrelevant to its interval empty."""
    numeric_days = sorted({d for d in spec.month_days if d != MONTH_END})
    days: tuple[int | str, ...] = tuple(numeric_days) + (
        (MONTH_END,) if MONTH_END in spec.month_days else ()
    )
    uses_hours = spec.interval in {"monthly", "weekly", "daily"}
    return ScheduleSpec(
        interval=spec.interval,
        month_days=days if spec.interval == "monthly" else (),
        weekdays=tuple(sorted(set(spec.weekdays))) if spec.interval == "weekly" else (),
        hours=tuple(sorted(set(spec.hours))) if uses_hours else (),
        minutes=tuple(sorted(set(spec.minutes))),
    )


def spec_to_json(spec: ScheduleSpec) -> dict:
    """A JSON-serialisable dict of `spec` (stored in schedules.spec)."""
    spec = normalize_spec(spec)
    return {
        "interval": spec.interval,
        "month_days": list(spec.month_days),
        "weekdays": list(spec.weekdays),
        "hours": list(spec.hours),
        "minutes": list(spec.minutes),
    }


def spec_from_json(data: Mapping) -> ScheduleSpec:
    """The ScheduleSpec stored by spec_to_json."""
    return normalize_spec(
        ScheduleSpec(
            interval=data["interval"],
            month_days=tuple(d if d == MONTH_END else int(d) for d in data.get("month_days", ())),
            weekdays=tuple(int(d) for d in data.get("weekdays", ())),
            hours=tuple(int(h) for h in data.get("hours", ())),
            minutes=tuple(int(m) for m in data.get("minutes", (0,))),
        )
    )


def day_matches(spec: ScheduleSpec, day: dt.date) -> bool:
    """True when `spec` fires on calendar date `day` (ignoring the time of day)."""
    if spec.interval == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day in spec.month_days or (MONTH_END in spec.month_days and day.day == last)
    if spec.interval == "weekly":
        return day.weekday() in spec.weekdays
    return True


def times_of_day(spec: ScheduleSpec) -> list[dt.time]:
    """The local times of day at which `spec` fires on a matching day, ascending."""
    if spec.interval in {"hourly", "every_30_minutes"}:
        hours: Iterable[int] = range(24)
    else:
        hours = spec.hours
    return sorted({dt.time(h, m) for h in hours for m in spec.minutes})


def _localize(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
    """`naive` local time as an aware datetime, or None when that wall time does not exist."""
    aware = naive.replace(tzinfo=zone)
    back = aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    # A wall time inside a DST gap does not survive the round trip; like 31 February, skip it.
    return aware if back == naive else None


def _iter_occurrences(spec: ScheduleSpec, zone: dt.tzinfo, start_day: dt.date, days: int):
    times = times_of_day(spec)
    if not times:
        return
    for offset in range(days):
        day = start_day + dt.timedelta(days=offset)
        if not day_matches(spec, day):
            continue
        for time_of_day in times:
            aware = _localize(dt.datetime.combine(day, time_of_day), zone)
            if aware is not None:
                yield aware


def next_occurrences(
    spec: ScheduleSpec, tz: str | dt.tzinfo, after: dt.datetime, count: int = 5
) -> list[dt.datetime]:
    """The next `count` firing times strictly after `after`, aware in zone `tz`."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    zone = _as_zone(tz)
    spec = normalize_spec(spec)
    start_day = after.astimezone(zone).date()
    found: list[dt.datetime] = []
    for occurrence in _iter_occurrences(spec, zone, start_day, _HORIZON_DAYS):
        if occurrence > after:
            found.append(occurrence)
            if len(found) >= count:
                break
    return found


def occurrences_between(
    spec: ScheduleSpec, tz: str | dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """Firing times t with start < t <= end, as aware UTC datetimes."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("`start` and `end` must be timezone-aware")
    if end <= start:
        return []
    zone = _as_zone(tz)
    spec = normalize_spec(spec)
    first_day = start.astimezone(zone).date()
    days = (end.astimezone(zone).date() - first_day).days + 1
    return [
        occurrence.astimezone(dt.UTC)
        for occurrence in _iter_occurrences(spec, zone, first_day, days)
        if start < occurrence <= end
    ]


def describe_spec(spec: ScheduleSpec) -> str:
    """The spec in the manual's words, e.g. 「毎月月末日 13時45分」 or 「毎日 10時, 22時 0分」."""
    spec = normalize_spec(spec)
    minutes = ", ".join(f"{m}分" for m in spec.minutes)
    hours = ", ".join(f"{h}時" for h in spec.hours)
    if spec.interval == "monthly":
        days = "・".join("月末日" if d == MONTH_END else f"{d}日" for d in spec.month_days)
        return f"毎月{days} {hours} {minutes}"
    if spec.interval == "weekly":
        weekdays = "・".join(f"{WEEKDAY_NAMES[d]}曜日" for d in spec.weekdays)
        return f"毎週{weekdays} {hours} {minutes}"
    if spec.interval == "daily":
        return f"毎日 {hours} {minutes}"
    return f"{INTERVAL_NAMES[spec.interval]} {minutes}"


def _fires_every_day(spec: ScheduleSpec) -> bool:
    return spec.interval in {"daily", "hourly", "every_30_minutes"}


def classify_overlap(a: ScheduleSpec, b: ScheduleSpec) -> Overlap:
    """How two schedules of the exclusive group relate when saved (manual 付録6.3).

    "error": they certainly fire together — identical settings, a daily schedule at a time the
    other also uses, or a shared weekday / day of month at a shared time. "confirm": they fire
    together only in some months (毎月1日 vs 毎週火曜日; 毎月30日 vs 月末日). "ok": never together.
    """
    a, b = normalize_spec(a), normalize_spec(b)
    if not set(times_of_day(a)) & set(times_of_day(b)):
        return "ok"
    if _fires_every_day(a) or _fires_every_day(b):
        return "error"
    if a.interval == "weekly" and b.interval == "weekly":
        return "error" if set(a.weekdays) & set(b.weekdays) else "ok"
    if a.interval == "monthly" and b.interval == "monthly":
        if set(a.month_days) & set(b.month_days):
            return "error"
        a_end, b_end = MONTH_END in a.month_days, MONTH_END in b.month_days
        # 月末日 is day 28, 29, 30 or 31 depending on the month.
        if (a_end and any(d in (28, 29, 30, 31) for d in b.month_days)) or (
            b_end and any(d in (28, 29, 30, 31) for d in a.month_days)
        ):
            return "confirm"
        return "ok"
    # monthly vs weekly: every day of the month falls on every weekday in some month.
    return "confirm"


@dataclass(frozen=True)
class TimelineEntry:
    """One future firing of one process's schedule."""

    at: dt.datetime  # aware, in the account's time zone
    process_key: str
    process_name: str


def next_occurrences_timeline(
    specs: Mapping[str, ScheduleSpec | None],
    tz: str | dt.tzinfo,
    now: dt.datetime,
    count: int = 10,
) -> list[TimelineEntry]:
    """The next `count` firings of all given schedules merged on one timeline (earliest first)."""
    entries = [
        TimelineEntry(at, key, process_name(key))
        for key, spec in specs.items()
        if spec is not None
        for at in next_occurrences(spec, tz, now, count)
    ]
    entries.sort(key=lambda entry: (entry.at, entry.process_key))
    return entries[:count]


# --- dispatch slots ----------------------------------------------------------------------


def parse_now(now: str | dt.datetime | None) -> dt.datetime:
    """`now` (ISO text or aware datetime; None: the current time) as an aware UTC datetime."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    if now.tzinfo is None:
        raise ValueError("dispatch time must be timezone-aware")
    return now.astimezone(dt.UTC)


def due_slots(
    spec: ScheduleSpec,
    tz: str | dt.tzinfo,
    now: dt.datetime,
    effective_from: dt.datetime,
    grace: dt.timedelta = DISPATCH_GRACE,
) -> list[dt.datetime]:
    """Slots (UTC) a tick at `now` must run: within the grace window and not before the
    schedule took effect (a slot already past when the schedule was saved is not run)."""
    start = max(now - grace, effective_from - dt.timedelta(microseconds=1))
    return occurrences_between(spec, tz, start, now)
