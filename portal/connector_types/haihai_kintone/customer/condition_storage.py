"""How Step5 stores 連携条件: conditions ⇄ JSON, their validation against the synced app's
fields, and the summaries under 「連携条件の設定」 (manual 付録1.2). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portal.connector_types.haihai_kintone.customer.condition_phrases import describe_condition
from portal.connector_types.haihai_kintone.customer.condition_terms import (
    CONDITION_FIELD_TYPES,
    MATCH_LABELS,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    condition_query,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet
from portal.syncs.kintone_schema import type_label

SUMMARY_LIMIT = 4  # the page lists four conditions, then 「もっと見る」 (manual §2.1.3 step 7)
MAX_CONDITIONS = 50
MSG_CONDITIONS_FORMAT = (
    "連携条件の形式が正しくありません。「連携条件の設定」から設定し直してください。"
)
MSG_CONDITIONS_TOO_MANY = f"連携条件は{MAX_CONDITIONS}件まで設定できます。"


# --- conditions as JSON ----------------------------------------------------------------------


def condition_set_to_json(condition_set: ConditionSet) -> dict[str, Any]:
    """The JSON stored (and carried by the hidden input) for a ConditionSet."""
    conditions = []
    for condition in condition_set.conditions:
        value = condition.value
        if isinstance(value, tuple):
            value = list(value)
        conditions.append(
            {
                "field_code": condition.field_code,
                "field_type": condition.field_type,
                "operator": condition.operator,
                "value": value,
            }
        )
    return {"match": condition_set.match, "conditions": conditions}


def condition_set_from_json(data: Any) -> ConditionSet:
    """The inverse of condition_set_to_json; ValueError when `data` has the wrong shape."""
    if data is None or data == "":
        return ConditionSet()
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except RecursionError:  # a hand-made value nested thousands deep
            raise ValueError("conditions nested too deeply") from None
    if not isinstance(data, Mapping):
        raise ValueError("conditions must be an object")
    match = data.get("match", "all")
    if not isinstance(match, str) or match not in MATCH_LABELS:
        raise ValueError("unknown match")
    items = data.get("conditions") or []
    if not isinstance(items, list):
        raise ValueError("conditions must be a list")
    conditions = []
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError("a condition must be an object")
        code, ftype, operator = item.get("field_code"), item.get("field_type"), item.get("operator")
        if not all(isinstance(v, str) and v for v in (code, ftype, operator)):
            raise ValueError("a condition needs field_code, field_type and operator")
        value = item.get("value")
        if isinstance(value, list):
            value = tuple("" if v is None else str(v) for v in value)
        elif value is not None and not isinstance(value, str | Mapping):
            value = str(value)
        conditions.append(Condition(code, ftype, operator, value))
    return ConditionSet(match=match, conditions=tuple(conditions))


def conditions_json_text(condition_set: ConditionSet) -> str:
    """The hidden input's value for a ConditionSet (compact JSON, Japanese kept readable)."""
    return json.dumps(
        condition_set_to_json(condition_set), ensure_ascii=False, separators=(",", ":")
    )


def validate_conditions(
    condition_set: ConditionSet, fields: Mapping[str, Any], tz: str
) -> list[tuple[int, str]]:
    """(index, Japanese message) for every condition that cannot become a kintone query."""
    problems = []
    for index, condition in enumerate(condition_set.conditions):
        try:
            condition_query(condition, fields, tz=tz)
        except ConditionError as error:
            problems.append((index, error.message))
        except (TypeError, ValueError, AttributeError):
            # A hand-made hidden value of an unexpected shape: ask for the dialog again.
            problems.append((index, MSG_CONDITIONS_FORMAT))
    return problems


def condition_fields(fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """Fields of the synced app that can be a condition: [{code, label, type, type_label}]."""
    return [
        {
            "code": code,
            "label": str(prop.get("label", code)),
            "type": str(prop.get("type")),
            "type_label": type_label(str(prop.get("type"))),
        }
        for code, prop in fields.items()
        if isinstance(prop, Mapping) and prop.get("type") in CONDITION_FIELD_TYPES
    ]


def summarize(condition_set: ConditionSet, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The summary under 「連携条件の設定」: every line, the first four, and the rest."""
    lines = [describe_condition(c, fields) for c in condition_set.conditions]
    return {
        "lines": lines,
        "shown": lines[:SUMMARY_LIMIT],
        "more": lines[SUMMARY_LIMIT:],
        "match_label": MATCH_LABELS[condition_set.match] if len(lines) > 1 else "",
    }
