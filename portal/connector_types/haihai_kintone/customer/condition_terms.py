"""The vocabulary of 連携条件 (manual 付録1.2): field types, operators and their labels, and the
relative-date forms the conditions dialog offers. Pure data and lookups, no query building."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# --------------------------------------------------------------------------------------------
# Field families and their operators (付録1.2 tables)

TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "LINK"})
MULTILINE_TYPES = frozenset({"MULTI_LINE_TEXT"})
NUMBER_TYPES = frozenset({"NUMBER", "CALC", "RECORD_NUMBER"})
CHOICE_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT", "DROP_DOWN", "RADIO_BUTTON"})
DATETIME_TYPES = frozenset({"DATETIME", "CREATED_TIME", "UPDATED_TIME"})
DATE_TYPES = frozenset({"DATE"}) | DATETIME_TYPES
CONDITION_FIELD_TYPES = TEXT_TYPES | MULTILINE_TYPES | NUMBER_TYPES | CHOICE_TYPES | DATE_TYPES

_TEXT_OPERATORS = (
    ("eq", "等しい"),
    ("ne", "等しくない"),
    ("in", "次のいずれかと等しい"),
    ("like", "次のキーワードを含む"),
    ("not_like", "次のキーワードを含まない"),
)
_MULTILINE_OPERATORS = (
    ("like", "次のキーワードを含む"),
    ("not_like", "次のキーワードを含まない"),
)
_NUMBER_OPERATORS = (
    ("eq", "等しい"),
    ("ne", "等しくない"),
    ("le", "以下"),
    ("ge", "以上"),
)
_CHOICE_OPERATORS = (
    ("in", "次のいずれかを含む"),
    ("not_in", "次のいずれも含まない"),
)
_DATE_OPERATORS = (
    ("eq", "等しい"),
    ("ne", "等しくない"),
    ("le", "以前"),
    ("lt", "より前"),
    ("ge", "以降"),
    ("gt", "より後"),
)
# Operators the tables mark 「条件値の入力必須」 (a blank value is not a condition).
VALUE_REQUIRED = frozenset({"like", "not_like", "le", "ge", "lt", "gt"})
EMPTINESS_OPERATORS = {"is_empty": "が空である", "is_not_empty": "が空ではない"}

COMPARISON = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

UNSELECTED_LABEL = "(未選択)"
BLANK_LABEL = "(空白)"
MATCH_LABELS = {"all": "すべての条件を満たす", "any": "いずれかの条件を満たす"}


def operators_for(field_type: str) -> list[tuple[str, str]]:
    """Operators the 連携条件 dialog offers for a kintone field type: [(key, Japanese label)].

    Exactly the manual's 付録1.2 tables; an empty list for types that cannot be a condition.
    """
    if field_type in TEXT_TYPES:
        return list(_TEXT_OPERATORS)
    if field_type in MULTILINE_TYPES:
        return list(_MULTILINE_OPERATORS)
    if field_type in NUMBER_TYPES:
        return list(_NUMBER_OPERATORS)
    if field_type in CHOICE_TYPES:
        return list(_CHOICE_OPERATORS)
    if field_type in DATE_TYPES:
        return list(_DATE_OPERATORS)
    return []


def operator_label(field_type: str, operator: str) -> str:
    """Japanese label of one operator for a field type (e.g. 以前); ValueError if not offered."""
    for key, label in operators_for(field_type):
        if key == operator:
            return label
    if operator in EMPTINESS_OPERATORS and field_type in CONDITION_FIELD_TYPES:
        return EMPTINESS_OPERATORS[operator]
    raise ValueError(f"operator {operator!r} is not available for {field_type}")


# --------------------------------------------------------------------------------------------
# Date value forms (条件② 以降)

DATE_UNITS = {"days": "日", "weeks": "週", "months": "月", "years": "年"}
DATE_DIRECTIONS = {"before": "前", "after": "後"}
# kintone weekday names in the dialog's order (月 … 日) with their labels.
WEEKDAYS = (
    ("MONDAY", "月"),
    ("TUESDAY", "火"),
    ("WEDNESDAY", "水"),
    ("THURSDAY", "木"),
    ("FRIDAY", "金"),
    ("SATURDAY", "土"),
    ("SUNDAY", "日"),
)
ALL_WEEKDAYS_LABEL = "すべての曜日"
ALL_DAYS_LABEL = "すべて"
MONTH_END_LABEL = "末日"

SIMPLE_DAY_KINDS = {
    "yesterday": ("YESTERDAY", "昨日"),
    "today": ("TODAY", "今日"),
    "tomorrow": ("TOMORROW", "明日"),
}
WEEK_KINDS = {
    "last_week": ("LAST_WEEK", "先週", -1),
    "this_week": ("THIS_WEEK", "今週", 0),
    "next_week": ("NEXT_WEEK", "来週", 1),
}
MONTH_KINDS = {
    "last_month": ("LAST_MONTH", "先月", -1),
    "this_month": ("THIS_MONTH", "今月", 0),
    "next_month": ("NEXT_MONTH", "来月", 1),
}
YEAR_KINDS = {
    "last_year": ("LAST_YEAR", "昨年", -1),
    "this_year": ("THIS_YEAR", "今年", 0),
    "next_year": ("NEXT_YEAR", "来年", 1),
}


def date_value_kinds(field_type: str) -> list[tuple[str, str]]:
    """The 条件② choices of the dialog for a date field: [(kind, Japanese label)]."""
    first = "日付を指定" if field_type == "DATE" else "日時を指定"
    kinds = [("absolute", first), ("from_today", "実行タイミングから")]
    kinds += [(kind, label) for kind, (_, label) in SIMPLE_DAY_KINDS.items()]
    kinds += [(kind, label) for kind, (_, label, _) in WEEK_KINDS.items()]
    kinds += [(kind, label) for kind, (_, label, _) in MONTH_KINDS.items()]
    kinds += [(kind, label) for kind, (_, label, _) in YEAR_KINDS.items()]
    return kinds


def weekday_choices() -> list[tuple[str | None, str]]:
    """曜日 choices for 先週/今週/来週: None = すべての曜日, then MONDAY … SUNDAY."""
    return [(None, ALL_WEEKDAYS_LABEL)] + [(name, f"{label}曜日") for name, label in WEEKDAYS]


def month_day_choices() -> list[tuple[int | str | None, str]]:
    """日 choices for 先月/今月/来月: None = すべて, 1 … 31, then "LAST" = 末日."""
    days: list[tuple[int | str | None, str]] = [(None, ALL_DAYS_LABEL)]
    days += [(day, f"{day}日") for day in range(1, 32)]
    days.append(("LAST", MONTH_END_LABEL))
    return days


def choice_options(field: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Options of a choice field for the dialog as (value, label); 「(未選択)」 ("") comes first
    when the field is not required, then the options in kintone's order."""
    options = field.get("options") or {}
    ordered = sorted(options.values(), key=lambda option: int(option.get("index", 0)))
    result = [] if field.get("required") else [("", UNSELECTED_LABEL)]
    result += [(str(option["label"]), str(option["label"])) for option in ordered]
    return result
