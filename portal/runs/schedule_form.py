"""The schedule editor shared by every process: posted fields → (連携タイミング, ScheduleSpec),
the values the `schedule_editor` macro renders, and the save-time overlap check (付録6.3).

Field names are `<prefix>-timing`, `-interval`, `-month_day`, `-weekday` (repeatable), `-hours`
(repeatable) and `-minute`. Variants: "standard" (毎月 / 毎週 / 毎日; Steps 5–7), "daily" (毎日
only; Step8) and "bridge" (毎日 / 毎時 / 30分毎; Step9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from portal.connector_types.registry import get_process, is_known, process_name
from portal.runs.schedule_math import WEEKDAY_NAMES, classify_overlap, describe_spec, normalize_spec
from portal.syncs.config import MONTH_END, ScheduleSpec, Timing

TIMING_LABELS: dict[str, str] = {
    "off": "連携しない",
    "manual": "手動実行",
    "schedule": "スケジュール実行",
}
INTERVAL_LABELS: dict[str, str] = {
    "monthly": "毎月",
    "weekly": "毎週",
    "daily": "毎日",
    "hourly": "毎時",
    "every_30_minutes": "30分毎",
}
VARIANT_INTERVALS: dict[str, tuple[str, ...]] = {
    "standard": ("monthly", "weekly", "daily"),
    "daily": ("daily",),
    "bridge": ("daily", "hourly", "every_30_minutes"),
}
MONTH_DAY_CHOICES: tuple[tuple[str, str], ...] = tuple((str(d), f"{d}日") for d in range(1, 32)) + (
    (MONTH_END, "月末日"),
)
WEEKDAY_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (str(i), f"{name}曜日") for i, name in enumerate(WEEKDAY_NAMES)
)

MSG_TIMING = "連携タイミングを選択してください。"
MSG_INTERVAL = "実行間隔を選択してください。"
MSG_MONTH_DAY = "日付を選択してください。"
MSG_WEEKDAY = "曜日を選択してください。"
MSG_HOURS = "時間を1つ以上選択してください。"
MSG_MINUTE = "分は0～59の数値で指定してください。"
MSG_MINUTE_30 = "分は0～29の数値で指定してください（30分後にも実行されます）。"


class ScheduleFormError(ValueError):
    """The posted schedule fields are invalid; `errors` maps field names to Japanese messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_name(prefix: str, name: str) -> str:
    """The posted name of editor field `name` under `prefix`."""
    return f"{prefix}-{name}"


def _get_list(form: Mapping, name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    if getlist is not None:
        return [v for v in getlist(name) if v != ""]
    value = form.get(name)
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _int_in(value: str | None, low: int, high: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def parse_schedule_form(
    form: Mapping, prefix: str, variant: str = "standard"
) -> tuple[Timing, ScheduleSpec | None]:
    """(timing, spec) from the posted fields; spec is None unless timing is スケジュール実行.

    Raises ScheduleFormError with a message per invalid field.
    """
    intervals = VARIANT_INTERVALS[variant]
    timing = form.get(field_name(prefix, "timing"))
    if timing not in TIMING_LABELS:
        raise ScheduleFormError({field_name(prefix, "timing"): MSG_TIMING})
    if timing != "schedule":
        return timing, None  # type: ignore[return-value]

    errors: dict[str, str] = {}
    interval = form.get(field_name(prefix, "interval")) or (
        intervals[0] if len(intervals) == 1 else None
    )
    if interval not in intervals:
        raise ScheduleFormError({field_name(prefix, "interval"): MSG_INTERVAL})

    month_days: tuple[int | str, ...] = ()
    weekdays: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    if interval == "monthly":
        raw_day = form.get(field_name(prefix, "month_day"))
        day = MONTH_END if raw_day == MONTH_END else _int_in(raw_day, 1, 31)
        if day is None:
            errors[field_name(prefix, "month_day")] = MSG_MONTH_DAY
        else:
            month_days = (day,)
    if interval == "weekly":
        values = [_int_in(v, 0, 6) for v in _get_list(form, field_name(prefix, "weekday"))]
        if not values or None in values:
            errors[field_name(prefix, "weekday")] = MSG_WEEKDAY
        else:
            weekdays = tuple(sorted(set(values)))  # type: ignore[arg-type]
    if interval in ("monthly", "weekly", "daily"):
        values = [_int_in(v, 0, 23) for v in _get_list(form, field_name(prefix, "hours"))]
        if not values or None in values:
            errors[field_name(prefix, "hours")] = MSG_HOURS
        else:
            hours = tuple(sorted(set(values)))  # type: ignore[arg-type]

    raw_minute = form.get(field_name(prefix, "minute"))
    if interval == "every_30_minutes":
        minute = _int_in(raw_minute, 0, 29)
        if minute is None:
            errors[field_name(prefix, "minute")] = MSG_MINUTE_30
        minutes = (minute, minute + 30) if minute is not None else ()
    else:
        minute = _int_in(raw_minute, 0, 59)
        if minute is None:
            errors[field_name(prefix, "minute")] = MSG_MINUTE
        minutes = (minute,) if minute is not None else ()

    if errors:
        raise ScheduleFormError(errors)
    spec = ScheduleSpec(
        interval=interval,  # type: ignore[arg-type]
        month_days=month_days,
        weekdays=weekdays,
        hours=hours,
        minutes=minutes,  # type: ignore[arg-type]
    )
    return "schedule", normalize_spec(spec)


@dataclass
class EditorValues:
    """What the schedule editor shows: the current choice of every field."""

    timing: str = "off"
    interval: str = "daily"
    month_day: str = "1"
    weekdays: set[str] = field(default_factory=set)
    hours: set[str] = field(default_factory=set)
    minute: str = "0"


def editor_values(
    timing: str, spec: ScheduleSpec | None, variant: str = "standard"
) -> EditorValues:
    """Editor values for a saved (timing, spec)."""
    intervals = VARIANT_INTERVALS[variant]
    values = EditorValues(timing=timing, interval=intervals[0] if len(intervals) == 1 else "daily")
    if spec is None:
        return values
    spec = normalize_spec(spec)
    values.interval = spec.interval
    if spec.month_days:
        values.month_day = str(spec.month_days[0])
    values.weekdays = {str(d) for d in spec.weekdays}
    values.hours = {str(h) for h in spec.hours}
    values.minute = str(spec.minutes[0]) if spec.minutes else "0"
    return values


def editor_values_from_form(form: Mapping, prefix: str, variant: str = "standard") -> EditorValues:
    """Editor values echoing what was posted (to re-render the editor unchanged)."""
    intervals = VARIANT_INTERVALS[variant]
    interval = form.get(field_name(prefix, "interval")) or ""
    if interval not in intervals:
        interval = intervals[0] if len(intervals) == 1 else "daily"
    timing = form.get(field_name(prefix, "timing")) or "off"
    return EditorValues(
        timing=timing if timing in TIMING_LABELS else "off",
        interval=interval,
        month_day=form.get(field_name(prefix, "month_day")) or "1",
        weekdays=set(_get_list(form, field_name(prefix, "weekday"))),
        hours=set(_get_list(form, field_name(prefix, "hours"))),
        minute=form.get(field_name(prefix, "minute")) or "0",
    )


def editor_form_fields(
    prefix: str, values: EditorValues, variant: str = "standard"
) -> list[tuple[str, str]]:
    """The fields the editor posts for `values` (the inverse of editor_values_from_form).

    Only the fields the chosen timing and interval use are given: parse_schedule_form reads
    nothing else, so posting them stores the same (timing, spec).
    """
    pairs = [(field_name(prefix, "timing"), values.timing)]
    if values.timing != "schedule":
        return pairs
    interval = values.interval
    if interval not in VARIANT_INTERVALS[variant]:
        interval = VARIANT_INTERVALS[variant][0]
    pairs.append((field_name(prefix, "interval"), interval))
    if interval == "monthly":
        pairs.append((field_name(prefix, "month_day"), values.month_day))
    if interval == "weekly":
        for day in sorted(values.weekdays, key=_number_order):
            pairs.append((field_name(prefix, "weekday"), day))
    if interval in ("monthly", "weekly", "daily"):
        for hour in sorted(values.hours, key=_number_order):
            pairs.append((field_name(prefix, "hours"), hour))
    pairs.append((field_name(prefix, "minute"), values.minute))
    return pairs


def _number_order(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1_000, value)


# --- save-time overlap check (付録6.3) ------------------------------------------------------


@dataclass(frozen=True)
class ScheduleCheck:
    """Outcome of the save-time check: errors block saving, confirmations need 「OK」."""

    errors: list[str]
    confirmations: list[str]
    # The errors again by process key: each one under both processes of its pair.
    errors_by_process: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when saving may go ahead without asking."""
        return not self.errors and not self.confirmations


def _pair_label(a: str, b: str) -> str:
    return f"「{process_name(a)}」と「{process_name(b)}」"


def check_schedules_for_save(specs: Mapping[str, ScheduleSpec | None]) -> ScheduleCheck:
    """Compare every pair of scheduled processes of the exclusive group (付録6.3).

    Reaction history and Bridge (and any process not in the check) are exempt.
    """
    checked = [
        (key, normalize_spec(spec))
        for key, spec in specs.items()
        if spec is not None and is_known(key) and get_process(key).overlap_checked
    ]
    errors: list[str] = []
    confirmations: list[str] = []
    by_process: dict[str, list[str]] = {}
    for index, (key_a, spec_a) in enumerate(checked):
        for key_b, spec_b in checked[index + 1 :]:
            verdict = classify_overlap(spec_a, spec_b)
            pair = _pair_label(key_a, key_b)
            detail = f"（{describe_spec(spec_a)} / {describe_spec(spec_b)}）"
            if verdict == "error":
                errors.append(
                    f"{pair}のスケジュール設定が重複しています{detail}。"
                    "スケジュール設定が重複しないように設定してください。"
                )
                for key in (key_a, key_b):
                    by_process.setdefault(key, []).append(errors[-1])
            elif verdict == "confirm":
                confirmations.append(
                    f"{pair}は、連携処理が実行される月によっては同じタイミングで実行される可能性があります{detail}。"
                )
    return ScheduleCheck(errors, confirmations, by_process)
