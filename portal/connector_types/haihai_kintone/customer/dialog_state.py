"""The 「連携条件の設定」 dialog's state, pure: rows posted by the dialog ⇄ stored conditions.

The dialog rows post as `cond-<i>-field`, `-operator`, and the value inputs of the field's type
(`-value`, `-choices`, `-date_kind`, `-date_value`, `-amount`, `-unit`, `-direction`,
`-weekday`, `-day`); `rows_from_form` reads them, `row_condition` validates one into a
Condition, `row_view` gives the template what one row shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    MAX_CONDITIONS,
    MSG_CONDITIONS_TOO_MANY,
)
from portal.connector_types.haihai_kintone.customer.condition_terms import (
    CHOICE_TYPES,
    DATE_DIRECTIONS,
    DATE_TYPES,
    DATE_UNITS,
    MATCH_LABELS,
    MULTILINE_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    choice_options,
    date_value_kinds,
    month_day_choices,
    operators_for,
    weekday_choices,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    condition_query,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet
from portal.syncs.kintone_schema import type_label

_ROW_KEY = re.compile(r"cond-(\d+)-field")
# The comparison operators are shown as kintone shows them: a symbol and the manual's word.
OPERATOR_SYMBOLS = {"eq": "=", "ne": "≠", "le": "≤", "lt": "<", "ge": "≥", "gt": ">"}
WEEK_KINDS = ("last_week", "this_week", "next_week")
MONTH_KINDS = ("last_month", "this_month", "next_month")

MSG_OPERATOR = "条件を選択してください。"
MSG_FIELD_MISSING = (
    "kintone項目「{code}」はkintoneアプリに存在しないか、連携条件に使用できない項目です。"
    "「×」で削除してください。"
)


# --- the dialog's rows -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowState:
    """One dialog row as entered (any type); turned into a Condition by `row_condition`."""

    field_code: str
    operator: str = ""
    value: str = ""
    choices: tuple[str, ...] = ()
    date_kind: str = "absolute"
    date_value: str = ""
    amount: str = "1"
    unit: str = "days"
    direction: str = "before"
    weekday: str = ""
    day: str = ""


class RowInvalid(ValueError):
    """A dialog row cannot become a condition; `message` is Japanese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def family(field_type: str) -> str:
    """Which value inputs a field type gets: text, multiline, number, choice, date or none."""
    if field_type in TEXT_TYPES:
        return "text"
    if field_type in MULTILINE_TYPES:
        return "multiline"
    if field_type in NUMBER_TYPES:
        return "number"
    if field_type in CHOICE_TYPES:
        return "choice"
    if field_type in DATE_TYPES:
        return "date"
    return "none"


def operator_choices(field_type: str) -> list[tuple[str, str]]:
    """The operator select of a row: [(key, text)], e.g. ("le", "≤ (以前)")."""
    return [
        (key, f"{OPERATOR_SYMBOLS[key]} ({label})" if key in OPERATOR_SYMBOLS else label)
        for key, label in operators_for(field_type)
    ]


def new_row(code: str, field_type: str) -> RowState:
    """A row just added with 「+ 追加」: the type's first operator, an empty value."""
    operators = operators_for(field_type)
    return RowState(code, operators[0][0] if operators else "")


def row_from_condition(condition: Condition) -> RowState:
    """The dialog row showing a stored condition."""
    value = condition.value
    row = RowState(condition.field_code, condition.operator)
    kind = family(condition.field_type)
    if kind == "choice":
        items = value if isinstance(value, list | tuple) else ([] if value is None else [value])
        return replace(row, choices=tuple(str(v) for v in items))
    if kind == "date":
        spec = value if isinstance(value, Mapping) else {"kind": "absolute", "value": value or ""}
        date_kind = str(spec.get("kind") or "absolute")
        if date_kind == "absolute":
            text = str(spec.get("value") or "")
            if condition.field_type != "DATE" and len(text) > 10:
                text = text[:10] + "T" + text[11:16]  # the datetime-local input's format
            return replace(row, date_kind="absolute", date_value=text)
        if date_kind == "from_today":
            return replace(
                row,
                date_kind=date_kind,
                amount=str(spec.get("amount", "")),
                unit=str(spec.get("unit") or "days"),
                direction=str(spec.get("direction") or "before"),
            )
        weekday = spec.get("weekday")
        day = spec.get("day")
        return replace(
            row,
            date_kind=date_kind,
            weekday="" if weekday is None else str(weekday),
            day="" if day is None else str(day),
        )
    if isinstance(value, list | tuple):
        return replace(row, value=" ".join(str(v) for v in value))
    return replace(row, value="" if value is None else str(value))


def rows_from_form(form: MultiDict) -> list[RowState]:
    """The dialog rows posted, in the order of their indexes."""
    indexes = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.fullmatch(key)))
    rows = []
    for index in indexes:

        def get(name: str, default: str = "", index: int = index) -> str:
            return (form.get(f"cond-{index}-{name}") or default).strip()

        code = get("field")
        if not code:
            continue
        rows.append(
            RowState(
                field_code=code,
                operator=get("operator"),
                value=form.get(f"cond-{index}-value") or "",
                choices=tuple(form.getlist(f"cond-{index}-choices")),
                date_kind=get("date_kind", "absolute"),
                date_value=get("date_value"),
                amount=get("amount"),
                unit=get("unit", "days"),
                direction=get("direction", "before"),
                weekday=get("weekday"),
                day=get("day"),
            )
        )
    return rows


def _date_value(row: RowState) -> dict[str, Any]:
    kind = row.date_kind
    if kind == "absolute":
        return {"kind": "absolute", "value": row.date_value}
    if kind == "from_today":
        amount: int | str = row.amount
        if row.amount.isascii() and row.amount.isdigit():
            amount = int(row.amount)
        return {"kind": kind, "amount": amount, "unit": row.unit, "direction": row.direction}
    if kind in WEEK_KINDS:
        return {"kind": kind, "weekday": row.weekday or None}
    if kind in MONTH_KINDS:
        day: int | str | None = row.day or None
        if row.day.isdigit():
            day = int(row.day)
        return {"kind": kind, "day": day}
    return {"kind": kind}


def row_condition(row: RowState, fields: Mapping[str, Any], tz: str) -> Condition:
    """The Condition a row describes; RowInvalid with the Japanese reason when it is not valid."""
    prop = fields.get(row.field_code)
    field_type = str(prop.get("type")) if isinstance(prop, Mapping) else ""
    kind = family(field_type)
    if kind == "none":
        raise RowInvalid(MSG_FIELD_MISSING.format(code=row.field_code))
    if row.operator not in {key for key, _ in operators_for(field_type)}:
        raise RowInvalid(MSG_OPERATOR)
    value: Any
    if kind == "choice":
        value = tuple(dict.fromkeys(row.choices))
    elif kind == "date":
        value = _date_value(row)
    else:
        value = row.value.strip()
    condition = Condition(row.field_code, field_type, row.operator, value)
    try:
        condition_query(condition, fields, tz=tz)
    except ConditionError as error:
        raise RowInvalid(error.message) from error
    return condition


def row_view(index: int, row: RowState, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the dialog template needs for one row."""
    prop = fields.get(row.field_code)
    field_type = str(prop.get("type")) if isinstance(prop, Mapping) else ""
    kind = family(field_type)
    view: dict[str, Any] = {
        "index": index,
        "code": row.field_code,
        "label": str(prop.get("label", row.field_code)) if isinstance(prop, Mapping) else "",
        "type": field_type,
        "type_label": type_label(field_type) if field_type else "",
        "family": kind,
        "operators": operator_choices(field_type),
        "state": row,
    }
    if kind == "choice":
        view["options"] = choice_options(prop)
    if kind == "date":
        view["date_kinds"] = date_value_kinds(field_type)
        view["is_datetime"] = field_type != "DATE"
        view["units"] = list(DATE_UNITS.items())
        view["directions"] = list(DATE_DIRECTIONS.items())
        view["weekdays"] = [("" if k is None else k, label) for k, label in weekday_choices()]
        view["days"] = [("" if k is None else str(k), label) for k, label in month_day_choices()]
        view["week_kinds"] = WEEK_KINDS
        view["month_kinds"] = MONTH_KINDS
    return view


def dialog_conditions(
    rows: list[RowState], match: str, fields: Mapping[str, Any], tz: str
) -> tuple[ConditionSet, dict[str, str]]:
    """The ConditionSet of the dialog's rows and {"cond-<i>": message} for the invalid ones."""
    errors: dict[str, str] = {}
    conditions = []
    for index, row in enumerate(rows):
        try:
            conditions.append(row_condition(row, fields, tz))
        except RowInvalid as invalid:
            errors[f"cond-{index}"] = invalid.message
    if len(rows) > MAX_CONDITIONS:
        errors["conditions"] = MSG_CONDITIONS_TOO_MANY
    return ConditionSet(match if match in MATCH_LABELS else "all", tuple(conditions)), errors
