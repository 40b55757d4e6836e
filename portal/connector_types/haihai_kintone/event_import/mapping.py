"""「連携項目の設定」 of Step8 / Step9: 配配メール database items written into other fields of the
reaction or Bridge app (manual 付録4.3, 5.3), and how their values are written (pure).

Rows are posted as `<prefix>_map-<n>-kintone` (field code) and `<prefix>_map-<n>-haihai_id`
(the synced item's ID), ordered by n. The fixed RH01 fields are mapped automatically and never
appear as rows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.settings.mapping import MappingRow, items_by_id
from portal.syncs.kintone_schema import type_label

# 付録4.3 / 5.3: kintone type → 配配メール 推奨項目.
MAPPABLE_TYPES: dict[str, str] = {
    "CHECK_BOX": "チェックボックス",
    "MULTI_SELECT": "セレクトボックス(複数選択)",
    "DROP_DOWN": "セレクトボックス(単一選択)",
    "RADIO_BUTTON": "ラジオボタン",
    "DATE": "日付",
    "SINGLE_LINE_TEXT": "テキストボックス 日時",
    "LINK": "テキストボックス",
    "MULTI_LINE_TEXT": "テキストエリア",
    "NUMBER": "数値(整数) or 数値(小数)",
}
LIST_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT"})

MSG_CHOOSE_FIELD = "追加するkintone項目を選択してください。"
MSG_FIELD_UNKNOWN = (
    "kintone項目「{name}」は連携先アプリに存在しないか、連携できない項目です。"
    "「kintone項目の同期」を行ってください。"
)
MSG_FIXED_FIELD = "kintone項目「{name}」は固定で連携される項目のため、設定できません。"
MSG_ITEM_REQUIRED = "配配メール項目を選択してください。"
MSG_ONE_ITEM_TO_MANY = "1つの配配メールの項目を、複数のkintoneの項目へ連携することはできません。"
MSG_MANY_ITEMS_TO_ONE = "複数の配配メールの項目を、同一のkintoneの項目へ連携することはできません。"
MSG_EMAIL_ITEM = "配配メールの「メールアドレス」項目は、固定で連携されるため選択できません。"


class EventMappingError(ValueError):
    """A dialog action broke a rule; `message` is the Japanese text to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def row_pattern(prefix: str) -> re.Pattern:
    """The posted name of a row's kintone field for `prefix`."""
    return re.compile(re.escape(prefix) + r"_map-(\d+)-kintone")


def rows_from_form(form: Mapping[str, Any], prefix: str) -> list[MappingRow]:
    """The rows posted under `prefix`, in the order of their indexes."""
    pattern = row_pattern(prefix)
    indexes = sorted(int(m.group(1)) for key in form if (m := pattern.fullmatch(key)))
    rows = []
    for index in indexes:
        code = (form.get(f"{prefix}_map-{index}-kintone") or "").strip()
        if code:
            item_id = (form.get(f"{prefix}_map-{index}-haihai_id") or "").strip()
            rows.append(MappingRow(code, "", item_id))
    return rows


def with_item_names(rows: Sequence[MappingRow], snapshot: Mapping[str, Any]) -> list[MappingRow]:
    """Rows with the current names of their items (a deleted item leaves the row empty)."""
    items = items_by_id(snapshot)
    named = []
    for row in rows:
        item = items.get(row.haihai_item_id)
        if item is None:
            named.append(MappingRow(row.kintone_code, "", ""))
        else:
            named.append(MappingRow(row.kintone_code, str(item["label"]), row.haihai_item_id))
    return named


def candidate_fields(
    app_fields: Mapping[str, Mapping[str, Any]],
    fixed: Collection[str],
    rows: Sequence[MappingRow] = (),
) -> list[dict[str, str]]:
    """Fields of 「1. kintone項目の選択」: mappable types, not fixed, not mapped yet."""
    used = {row.kintone_code for row in rows}
    return [
        {
            "code": code,
            "label": str(prop.get("label", code)),
            "type_label": type_label(prop["type"]),
        }
        for code, prop in app_fields.items()
        if prop.get("type") in MAPPABLE_TYPES and code not in fixed and code not in used
    ]


def selectable_items(snapshot: Mapping[str, Any]) -> list[dict[str, str]]:
    """配配メール items a row may choose (the email item is a fixed field already)."""
    return [
        {"id": str(item["id"]), "label": str(item["label"])}
        for item in snapshot.get("items", [])
        if not item.get("is_email")
    ]


def add_row(
    rows: Sequence[MappingRow],
    code: str,
    app_fields: Mapping[str, Mapping[str, Any]],
    fixed: Collection[str],
    snapshot: Mapping[str, Any],
) -> list[MappingRow]:
    """Rows with `code` appended (「追加」), its same-named item preselected."""
    if not code:
        raise EventMappingError(MSG_CHOOSE_FIELD)
    prop = app_fields.get(code)
    label = str((prop or {}).get("label", code))
    if code in fixed:
        raise EventMappingError(MSG_FIXED_FIELD.format(name=label))
    if prop is None or prop.get("type") not in MAPPABLE_TYPES:
        raise EventMappingError(MSG_FIELD_UNKNOWN.format(name=code))
    if any(row.kintone_code == code for row in rows):
        raise EventMappingError(MSG_MANY_ITEMS_TO_ONE)
    used = {row.haihai_item_id for row in rows}
    item = next(
        (i for i in selectable_items(snapshot) if i["label"] == label and i["id"] not in used),
        None,
    )
    new = MappingRow(code, item["label"], item["id"]) if item else MappingRow(code)
    return [*rows, new]


def remove_row(rows: Sequence[MappingRow], index: int) -> list[MappingRow]:
    """Rows without the one at `index` (「×」)."""
    return [row for i, row in enumerate(rows) if i != index]


def validate_rows(
    rows: Sequence[MappingRow],
    prefix: str,
    *,
    app_fields: Mapping[str, Mapping[str, Any]],
    fixed: Collection[str],
    snapshot: Mapping[str, Any],
) -> dict[str, str]:
    """Every rule → {form field name: message} (empty when the rows can be saved)."""
    errors: dict[str, str] = {}
    items = items_by_id(snapshot)
    seen_codes: set[str] = set()
    seen_items: set[str] = set()
    for index, row in enumerate(rows):
        kintone_key = f"{prefix}_map-{index}-kintone"
        item_key = f"{prefix}_map-{index}-haihai_id"
        prop = app_fields.get(row.kintone_code)
        if row.kintone_code in fixed:
            errors[kintone_key] = MSG_FIXED_FIELD.format(name=row.kintone_code)
        elif prop is None or prop.get("type") not in MAPPABLE_TYPES:
            errors[kintone_key] = MSG_FIELD_UNKNOWN.format(name=row.kintone_code)
        elif row.kintone_code in seen_codes:
            errors[kintone_key] = MSG_MANY_ITEMS_TO_ONE
        seen_codes.add(row.kintone_code)
        item = items.get(row.haihai_item_id)
        if item is None:
            errors[item_key] = MSG_ITEM_REQUIRED
        elif item.get("is_email"):
            errors[item_key] = MSG_EMAIL_ITEM
        elif row.haihai_item_id in seen_items:
            errors[item_key] = MSG_ONE_ITEM_TO_MANY
        seen_items.add(row.haihai_item_id)
    return errors


def describe_rows(
    rows: Sequence[MappingRow], app_fields: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Rows as the page shows them: kintone label, type name, item name."""
    described = []
    for index, row in enumerate(rows):
        prop = app_fields.get(row.kintone_code) or {}
        kind = str(prop.get("type", ""))
        described.append(
            {
                "index": index,
                "kintone_code": row.kintone_code,
                "kintone_label": str(prop.get("label", row.kintone_code)),
                "kintone_type_label": type_label(kind) if kind else "",
                "recommended": MAPPABLE_TYPES.get(kind, ""),
                "haihai_item": row.haihai_item,
                "haihai_item_id": row.haihai_item_id,
            }
        )
    return described


@dataclass(frozen=True)
class ItemMapping:
    """A mapped item as runs use it: the kintone field and the 配配メール item label."""

    kintone_code: str
    kintone_type: str
    haihai_item: str
    haihai_item_id: str


def kintone_value(kintone_type: str, value: Any) -> Any:
    """A 配配メール value in the write format of a kintone field, unaltered otherwise (付録4.3)."""
    if kintone_type in LIST_TYPES:
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part for part in str(value).split(",") if part]
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    if kintone_type == "DATE":
        return text.replace("/", "-")
    if kintone_type == "NUMBER":
        return text.replace(",", "")
    return text
