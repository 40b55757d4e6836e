"""連携条件 (manual 付録1.2): operators per kintone field type, and conditions → kintone query.

Pure: no I/O. The settings dialog asks `operators_for(field_type)` which operators to offer and
`condition_phrases.describe_condition` for the summaries under the button; a run turns the stored
`ConditionSet` into a kintone query with `build_query` (spec kintone-rest.md §5).

Decisions where the manual leaves room:

* A blank value (「空白値を条件とする場合は、未入力のままとしてください。(一部条件のみ可)」) is
  allowed for 等しい / 等しくない / 次のいずれかと等しい on text, 等しい / 等しくない on numbers; it
  becomes `= ""` / `!= ""` on text and `in ("")` / `not in ("")` on numbers (kintone refuses
  `= ""` for numbers). Date conditions always need a value.
* Relative dates stay kintone functions (`FROM_TODAY(-3, DAYS)`, `LAST_WEEK(MONDAY)`,
  `NEXT_MONTH(LAST)` …), so kintone evaluates them at read time; `resolve_date_value` computes
  the same days locally (weeks Sunday–Saturday, a day missing from a month = the 1st of the next
  month, as the manual's examples show) for previews and tests.
* A fixed date compared with a 日時/作成日時/更新日時 field means the whole day in the account's
  time zone; it is written as explicit UTC instants (`f >= "…Z" and f < "…Z"`), so the result
  does not depend on the time zone kintone assigns to the API token's user.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.customer.condition_terms import (
    ALL_DAYS_LABEL,
    ALL_WEEKDAYS_LABEL,
    CHOICE_TYPES,
    COMPARISON,
    CONDITION_FIELD_TYPES,
    DATE_DIRECTIONS,
    DATE_UNITS,
    EMPTINESS_OPERATORS,
    MONTH_END_LABEL,
    MONTH_KINDS,
    MULTILINE_TYPES,
    NUMBER_TYPES,
    SIMPLE_DAY_KINDS,
    TEXT_TYPES,
    VALUE_REQUIRED,
    WEEK_KINDS,
    WEEKDAYS,
    YEAR_KINDS,
    operators_for,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet

# --------------------------------------------------------------------------------------------
# Errors


class ConditionError(ValueError):
    """A condition cannot be turned into a query; `message` is Japanese and names the field."""

    def __init__(self, message: str, field_code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field_code = field_code

    @property
    def user_message(self) -> str:
        """Japanese text for the settings page or the run log."""
        return self.message


class ConditionFieldMissingError(ConditionError):
    """A condition names a kintone field that the app no longer has (or whose type changed)."""


# --------------------------------------------------------------------------------------------
# Literals

# Field codes: no whitespace and, among ASCII symbols, only "_" (kintone's rule); `$id` too.
_CODE_FORBIDDEN = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_DATETIME_RE = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


def quote_string(value: str) -> str:
    """A kintone query string literal: `"` and `\\` escaped, tab/newline as `\\t`/`\\n`."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    # Raw tabs and newlines inside a literal are a syntax error in kintone.
    text = text.replace("\t", "\\t").replace("\n", "\\n")
    return f'"{text}"'


def check_field_code(code: str) -> str:
    """Return `code` if it can stand bare in a query; raise ConditionError otherwise."""
    if code == "$id":
        return code
    if (
        not code
        or code[0].isdigit()
        or _CODE_FORBIDDEN.search(code)
        or any(ch.isspace() for ch in code)
    ):
        raise ConditionError(f"フィールドコード「{code}」は連携条件に使用できません。", code)
    return code


def _normalize_number(text: str, label: str, code: str) -> str:
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    if not _NUMBER_RE.fullmatch(cleaned):
        raise ConditionError(f"「{label}」の条件値には数値を入力してください（{text}）。", code)
    return cleaned


def _parse_date(text: str, label: str, code: str) -> dt.date:
    match = _DATE_RE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match:
        try:
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise ConditionError(
        f"「{label}」の条件値の日付が正しくありません（{text}）。YYYY-MM-DDの形式で入力してください。",
        code,
    )


def _parse_local_datetime(text: str, tz: dt.tzinfo, label: str, code: str) -> dt.datetime:
    match = _DATETIME_RE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match:
        # Seconds are dropped: kintone keeps datetimes to the minute.
        year, month, day, hour, minute, _seconds, zone = match.groups()
        try:
            moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute))
        except ValueError:
            moment = None
        if moment is not None:
            if zone is None:
                return moment.replace(tzinfo=tz)
            if zone == "Z":
                return moment.replace(tzinfo=dt.UTC)
            digits = zone[1:].replace(":", "")
            offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return moment.replace(tzinfo=dt.timezone(offset if zone[0] == "+" else -offset))
    raise ConditionError(
        f"「{label}」の条件値の日時が正しくありません（{text}）。"
        "YYYY-MM-DD HH:MMの形式で入力してください。",
        code,
    )


def _utc_literal(moment: dt.datetime) -> str:
    return quote_string(moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()).replace(tzinfo=tz)


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


# --------------------------------------------------------------------------------------------
# Date values


def _date_kind(value: Any) -> tuple[str, Mapping[str, Any]]:
    """Normalise a stored date value into (kind, dict)."""
    if isinstance(value, Mapping):
        kind = str(value.get("kind") or "")
        return kind, value
    if isinstance(value, dt.datetime):
        return "absolute", {"value": value.isoformat()}
    if isinstance(value, dt.date):
        return "absolute", {"value": value.isoformat()}
    if isinstance(value, str):
        return "absolute", {"value": value}
    return "", {}


_WEEKDAY_ALIASES = {name: name for name, _ in WEEKDAYS}
_WEEKDAY_ALIASES.update({label: name for name, label in WEEKDAYS})
_WEEKDAY_ALIASES.update({f"{label}曜日": name for name, label in WEEKDAYS})


def _weekday(raw: Any, label: str, code: str) -> str | None:
    if raw is None or raw == "" or raw == ALL_WEEKDAYS_LABEL:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 6:
        return WEEKDAYS[raw][0]  # 0 = Monday, as in ScheduleSpec
    name = _WEEKDAY_ALIASES.get(str(raw).strip().upper()) or _WEEKDAY_ALIASES.get(str(raw).strip())
    if name is None:
        raise ConditionError(f"「{label}」の条件の曜日が正しくありません（{raw}）。", code)
    return name


def _month_day(raw: Any, label: str, code: str) -> int | str | None:
    if raw is None or raw == "" or raw == ALL_DAYS_LABEL:
        return None
    if isinstance(raw, str) and raw.strip().upper() in ("LAST", MONTH_END_LABEL):
        return "LAST"
    try:
        day = int(str(raw).strip().removesuffix("日"))
    except ValueError:
        day = 0
    if not 1 <= day <= 31:
        raise ConditionError(f"「{label}」の条件の日が正しくありません（{raw}）。", code)
    return day


def _from_today(spec: Mapping[str, Any], label: str, code: str) -> tuple[int, str]:
    """Signed amount and unit of a 実行タイミングから X 日/週/月/年 前/後 value."""
    unit = str(spec.get("unit") or "")
    direction = str(spec.get("direction") or "")
    try:
        amount = int(str(spec.get("amount")).strip())
    except ValueError:
        amount = -1
    if unit not in DATE_UNITS or direction not in DATE_DIRECTIONS or not 0 <= amount <= 9999:
        raise ConditionError(
            f"「{label}」の条件「実行タイミングから」の値が正しくありません。"
            "0以上の整数と、日・週・月・年、前・後を指定してください。",
            code,
        )
    return (-amount if direction == "before" else amount), unit


def date_function(value: Any, *, label: str = "", code: str = "") -> str | None:
    """The kintone function for a relative date value (e.g. `LAST_MONTH(31)`); None if absolute."""
    kind, spec = _date_kind(value)
    if kind in ("absolute", ""):
        return None
    if kind == "from_today":
        amount, unit = _from_today(spec, label, code)
        return f"FROM_TODAY({amount}, {unit.upper()})"
    if kind in SIMPLE_DAY_KINDS:
        return f"{SIMPLE_DAY_KINDS[kind][0]}()"
    if kind in WEEK_KINDS:
        weekday = _weekday(spec.get("weekday"), label, code)
        return f"{WEEK_KINDS[kind][0]}({weekday or ''})"
    if kind in MONTH_KINDS:
        day = _month_day(spec.get("day"), label, code)
        return f"{MONTH_KINDS[kind][0]}({'' if day is None else day})"
    if kind in YEAR_KINDS:
        return f"{YEAR_KINDS[kind][0]}()"
    raise ConditionError(f"「{label}」の条件の日付の指定方法が正しくありません（{kind}）。", code)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def resolve_date_value(value: Any, today: dt.date) -> tuple[dt.date, dt.date]:
    """The inclusive range of days a date condition value denotes when run on `today`.

    Mirrors kintone's functions: weeks run Sunday–Saturday; 「先月/今月/来月 N日」 for a day the
    month does not have is the first day of the following month (manual 付録1.2: 「今月31日」
    run in February 2023 is 2023-03-01); FROM_TODAY months/years keep the day when possible
    and otherwise take the month's last day.
    """
    kind, spec = _date_kind(value)
    if kind == "absolute":
        text = str(spec.get("value") or "")
        day = _parse_date(text[:10], "", "") if len(text) >= 10 else _parse_date(text, "", "")
        return day, day
    if kind == "from_today":
        amount, unit = _from_today(spec, "", "")
        if unit == "days":
            day = today + dt.timedelta(days=amount)
        elif unit == "weeks":
            day = today + dt.timedelta(weeks=amount)
        elif unit == "months":
            day = _add_months(today, amount)
        else:
            day = _add_months(today, 12 * amount)
        return day, day
    if kind in SIMPLE_DAY_KINDS:
        shift = {"yesterday": -1, "today": 0, "tomorrow": 1}[kind]
        day = today + dt.timedelta(days=shift)
        return day, day
    if kind in WEEK_KINDS:
        sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
        sunday += dt.timedelta(weeks=WEEK_KINDS[kind][2])
        weekday = _weekday(spec.get("weekday"), "", "")
        if weekday is None:
            return sunday, sunday + dt.timedelta(days=6)
        order = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
        day = sunday + dt.timedelta(days=order.index(weekday))
        return day, day
    if kind in MONTH_KINDS:
        first = _add_months(today.replace(day=1), MONTH_KINDS[kind][2])
        last_day = calendar.monthrange(first.year, first.month)[1]
        day_spec = _month_day(spec.get("day"), "", "")
        if day_spec is None:
            return first, first.replace(day=last_day)
        if day_spec == "LAST":
            day = first.replace(day=last_day)
        elif int(day_spec) > last_day:
            day = _add_months(first, 1)
        else:
            day = first.replace(day=int(day_spec))
        return day, day
    if kind in YEAR_KINDS:
        year = today.year + YEAR_KINDS[kind][2]
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    raise ConditionError(f"日付の指定方法が正しくありません（{kind}）。")


# --------------------------------------------------------------------------------------------
# Query building


def _field_label(condition: Condition, fields: Mapping[str, Any] | None) -> str:
    if fields and isinstance(fields.get(condition.field_code), Mapping):
        return str(fields[condition.field_code].get("label") or condition.field_code)
    return condition.field_code


def check_condition_field(condition: Condition, fields: Mapping[str, Any] | None) -> None:
    """Raise ConditionFieldMissingError when `fields` (form properties) lack the field or its
    type changed since the condition was set."""
    if fields is None:
        return
    prop = fields.get(condition.field_code)
    if not isinstance(prop, Mapping):
        raise ConditionFieldMissingError(
            f"連携条件に指定したkintoneのフィールド（フィールドコード: {condition.field_code}）が"
            "kintoneアプリに見つかりません。「kintone項目の同期」を行い、連携条件を設定し直してください。",
            condition.field_code,
        )
    actual = prop.get("type")
    if actual and actual != condition.field_type:
        label = prop.get("label") or condition.field_code
        raise ConditionFieldMissingError(
            f"連携条件に指定したkintoneのフィールド「{label}」のフィールドタイプが変更されています"
            f"（{condition.field_type} → {actual}）。「kintone項目の同期」を行い、連携条件を設定し直してください。",
            condition.field_code,
        )


def _values_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return ["" if item is None else str(item) for item in value]
    return [str(value)]


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, Mapping):
        kind, spec = _date_kind(value)
        return kind in ("absolute", "") and not str(spec.get("value") or "").strip()
    return False


def condition_query(
    condition: Condition,
    fields: Mapping[str, Any] | None = None,
    *,
    tz: str | dt.tzinfo = "Asia/Tokyo",
) -> str:
    """One condition as a kintone query fragment; raise ConditionError when it is not valid."""
    check_condition_field(condition, fields)
    code = check_field_code(condition.field_code)
    label = _field_label(condition, fields)
    ftype = condition.field_type
    op = condition.operator
    allowed = {key for key, _ in operators_for(ftype)}
    if ftype not in CONDITION_FIELD_TYPES:
        raise ConditionError(
            f"「{label}」のフィールドタイプ（{ftype}）は連携条件に使用できません。", code
        )
    if op not in allowed and op not in EMPTINESS_OPERATORS:
        raise ConditionError(f"「{label}」には条件「{op}」を指定できません。", code)
    value = condition.value
    blank = _is_blank(value)
    if op in VALUE_REQUIRED and blank:
        raise ConditionError(f"「{label}」の条件値を入力してください。", code)

    if op in EMPTINESS_OPERATORS:
        return _emptiness(code, ftype, op == "is_empty", label)
    if ftype in TEXT_TYPES:
        if op in ("eq", "ne"):
            return f"{code} {COMPARISON[op]} {quote_string('' if blank else str(value))}"
        if op == "in":
            if isinstance(value, str) or value is None:
                words = [word for word in (value or "").split(" ") if word]
            else:
                words = _values_list(value)
            words = words or [""]
            return f"{code} in ({', '.join(quote_string(word) for word in words)})"
        keyword = quote_string(str(value).strip())
        return f"{code} {'like' if op == 'like' else 'not like'} {keyword}"
    if ftype in MULTILINE_TYPES:
        keyword = quote_string(str(value).strip())
        return f"{code} {'like' if op == 'like' else 'not like'} {keyword}"
    if ftype in NUMBER_TYPES:
        if blank:
            # kintone refuses `= ""` on numbers; `in ("")` is its way to ask for empty.
            return f'{code} {"in" if op == "eq" else "not in"} ("")'
        number = _normalize_number(str(value), label, code)
        return f"{code} {COMPARISON[op]} {number}"
    if ftype in CHOICE_TYPES:
        chosen = _values_list(value)
        if not chosen:
            raise ConditionError(f"「{label}」の条件の選択肢を1つ以上選択してください。", code)
        literals = ", ".join(quote_string(item) for item in dict.fromkeys(chosen))
        return f"{code} {'in' if op == 'in' else 'not in'} ({literals})"
    # Dates.
    if blank:
        raise ConditionError(f"「{label}」の条件の日付を指定してください。", code)
    function = date_function(value, label=label, code=code)
    if function is not None:
        return f"{code} {COMPARISON[op]} {function}"
    _, spec = _date_kind(value)
    text = str(spec.get("value")).strip()
    zone = _zone(tz)
    if ftype == "DATE":
        day = _parse_date(text, label, code)
        return f"{code} {COMPARISON[op]} {quote_string(day.isoformat())}"
    if len(unicodedata.normalize("NFKC", text)) <= 10:
        return _whole_day(code, op, _parse_date(text, label, code), zone)
    moment = _parse_local_datetime(text, zone, label, code)
    return f"{code} {COMPARISON[op]} {_utc_literal(moment)}"


def _whole_day(code: str, op: str, day: dt.date, tz: dt.tzinfo) -> str:
    """A date compared with a datetime field: the day is [00:00, next 00:00) in `tz`."""
    start = _utc_literal(_day_start(day, tz))
    end = _utc_literal(_day_start(day + dt.timedelta(days=1), tz))
    if op == "eq":
        return f"{code} >= {start} and {code} < {end}"
    if op == "ne":
        return f"{code} < {start} or {code} >= {end}"
    if op == "lt":
        return f"{code} < {start}"
    if op == "le":
        return f"{code} < {end}"
    if op == "gt":
        return f"{code} >= {end}"
    return f"{code} >= {start}"


def _emptiness(code: str, ftype: str, empty: bool, label: str) -> str:
    if ftype in MULTILINE_TYPES:
        return f"{code} {'is empty' if empty else 'is not empty'}"
    if ftype in TEXT_TYPES:
        return f'{code} {"=" if empty else "!="} ""'
    if ftype in NUMBER_TYPES or ftype in CHOICE_TYPES:
        return f'{code} {"in" if empty else "not in"} ("")'
    raise ConditionError(f"「{label}」では空白を条件にできません。", code)


def build_query(
    condition_set: ConditionSet,
    fields: Mapping[str, Any] | None = None,
    *,
    tz: str | dt.tzinfo = "Asia/Tokyo",
) -> str:
    """The kintone query (condition only, no order/limit) for a ConditionSet; "" when empty.

    `fields` are the app's form properties (code → {type, label, …}); when given, a condition
    on a field the app no longer has raises ConditionFieldMissingError. `tz` is the account's
    time zone, used for fixed dates and times on 日時 fields.
    """
    parts = [condition_query(c, fields, tz=tz) for c in condition_set.conditions]
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    joiner = " and " if condition_set.match == "all" else " or "
    return joiner.join(f"({part})" for part in parts)
