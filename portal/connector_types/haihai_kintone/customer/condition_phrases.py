"""Condition summaries as a person says them: 「初回接触日が実行日の3年前以降」.

One sentence per condition for the list under 「連携条件の設定」: the field label, then the value
with the particle its operator needs (「氏名が「山田」と等しい」, 「従業員数が100以上」,
「業種が「製造業」「小売業」のいずれか」, 「備考に「至急」を含む」). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.connector_types.haihai_kintone.customer.condition_terms import (
    CHOICE_TYPES,
    DATE_DIRECTIONS,
    DATE_TYPES,
    DATETIME_TYPES,
    MONTH_KINDS,
    NUMBER_TYPES,
    SIMPLE_DAY_KINDS,
    UNSELECTED_LABEL,
    WEEK_KINDS,
    WEEKDAYS,
    YEAR_KINDS,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    _date_kind,
    _field_label,
    _from_today,
    _is_blank,
    _month_day,
    _values_list,
    _weekday,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet

UNKNOWN_VALUE = "(不明な指定)"
# Operator → the ending after the value, for numbers and dates (「100以上」, 「昨日以前」).
_ORDER_ENDINGS = {"le": "以前", "lt": "より前", "ge": "以降", "gt": "より後"}
_NUMBER_ENDINGS = {"le": "以下", "ge": "以上"}
# 「6月前」 would read as "before June": spans are said 「6か月前」, 「2週間後」.
_SPAN_UNITS = {"days": "日", "weeks": "週間", "months": "か月", "years": "年"}


def _quoted(values: list[str]) -> str:
    return "".join(f"「{UNSELECTED_LABEL if v == '' else v}」" for v in values)


def date_phrase(value: Any, field_type: str) -> str:
    """A date condition's value in words: 「実行日の3年前」, 「先週の月曜日」, 「2024-01-31」."""
    kind, spec = _date_kind(value)
    if kind in ("absolute", ""):
        text = str(spec.get("value") or "").strip()
        return text.replace("T", " ") if text else ""
    try:
        if kind == "from_today":
            amount, unit = _from_today(spec, "", "")
            direction = DATE_DIRECTIONS[str(spec.get("direction"))]
            anchor = "実行日時" if field_type in DATETIME_TYPES else "実行日"
            return f"{anchor}の{abs(amount)}{_SPAN_UNITS[unit]}{direction}"
        if kind in SIMPLE_DAY_KINDS:
            return SIMPLE_DAY_KINDS[kind][1]
        if kind in WEEK_KINDS:
            weekday = _weekday(spec.get("weekday"), "", "")
            week = WEEK_KINDS[kind][1]
            return week if weekday is None else f"{week}の{dict(WEEKDAYS)[weekday]}曜日"
        if kind in MONTH_KINDS:
            day = _month_day(spec.get("day"), "", "")
            month = MONTH_KINDS[kind][1]
            if day is None:
                return month
            return f"{month}の{'末日' if day == 'LAST' else f'{day}日'}"
        if kind in YEAR_KINDS:
            return YEAR_KINDS[kind][1]
    except ConditionError:
        pass
    return UNKNOWN_VALUE


def _text_phrase(label: str, operator: str, value: Any) -> str:
    if operator in ("like", "not_like"):
        ending = "を含む" if operator == "like" else "を含まない"
        return f"{label}に「{str(value or '').strip()}」{ending}"
    if operator == "in":
        words = value.split(" ") if isinstance(value, str) else _values_list(value)
        words = [w for w in words if w.strip()] or [""]
        if words == [""]:
            return f"{label}が空欄"
        return f"{label}が{_quoted(words)}のいずれかと等しい"
    if _is_blank(value):
        return f"{label}が空欄" + ("ではない" if operator == "ne" else "")
    ending = "と等しくない" if operator == "ne" else "と等しい"
    return f"{label}が「{value}」{ending}"


def _number_phrase(label: str, operator: str, value: Any) -> str:
    if _is_blank(value):
        return f"{label}が空欄" + ("ではない" if operator == "ne" else "")
    if operator == "ne":
        return f"{label}が{value}ではない"
    return f"{label}が{value}{_NUMBER_ENDINGS.get(operator, '')}"


def _date_phrase(label: str, operator: str, value: Any, field_type: str) -> str:
    words = date_phrase(value, field_type)
    if not words:
        return f"{label}が空欄" + ("ではない" if operator == "ne" else "")
    if operator == "ne":
        return f"{label}が{words}ではない"
    return f"{label}が{words}{_ORDER_ENDINGS.get(operator, '')}"


def describe_condition(condition: Condition, fields: Mapping[str, Any] | None = None) -> str:
    """One sentence for a condition, e.g. 「初回接触日が実行日の3年前以降」."""
    label = _field_label(condition, fields)
    operator, value, ftype = condition.operator, condition.value, condition.field_type
    if operator == "is_empty":
        return f"{label}が空欄"
    if operator == "is_not_empty":
        return f"{label}が空欄ではない"
    if ftype in CHOICE_TYPES:
        items = _quoted(_values_list(value)) or f"「{UNSELECTED_LABEL}」"
        return f"{label}が{items}" + ("のいずれでもない" if operator == "not_in" else "のいずれか")
    if ftype in DATE_TYPES:
        return _date_phrase(label, operator, value, ftype)
    if ftype in NUMBER_TYPES:
        return _number_phrase(label, operator, value)
    return _text_phrase(label, operator, value)


def describe_conditions(
    condition_set: ConditionSet, fields: Mapping[str, Any] | None = None
) -> list[str]:
    """One sentence per condition, in order (the page shows four, then 「もっと見る」)."""
    return [describe_condition(c, fields) for c in condition_set.conditions]
