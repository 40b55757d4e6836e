"""Rules of Step4 「連携項目の設定」 as pure functions over rows (no I/O, no Flask).

Rows arrive from the form as `mapping-<n>-kintone` (field code), `mapping-<n>-haihai` (item name)
and `mapping-<n>-haihai_id` (item ID; synced method only), ordered by n. The first row is always
the mail-address row (manual §2.1.3 step 6 ②: it is mapped first).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from portal.models.settings import (
    DEFAULT_EMAIL_DISPLAY_NAME,
    HAIHAI_METHOD_MANUAL,
    HAIHAI_METHOD_SYNCED,
)
from portal.settings import messages as msg
from portal.syncs.kintone_schema import is_mappable, mappable_fields, type_label

# The mail address is a text; in kintone it lives in a 文字列 (1行) or リンク (mail) field.
EMAIL_FIELD_TYPES = frozenset({"SINGLE_LINE_TEXT", "LINK"})
MAX_ITEM_NAME = 255
_ROW_KEY = re.compile(r"mapping-(\d+)-kintone")


class MappingRuleError(ValueError):
    """A dialog action broke a Step4 rule; `message` is the Japanese text to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MappingRow:
    """One kintone field → 配配メール item row (the first row of a list is the email row)."""

    kintone_code: str
    haihai_item: str = ""
    haihai_item_id: str = ""


def rows_from_form(form: Mapping[str, Any]) -> list[MappingRow]:
    """The mapping rows posted in `form`, in the order of their indexes."""
    indexes = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.fullmatch(key)))
    rows = []
    for index in indexes:
        code = (form.get(f"mapping-{index}-kintone") or "").strip()
        if not code:
            continue
        rows.append(
            MappingRow(
                code,
                (form.get(f"mapping-{index}-haihai") or "").strip(),
                (form.get(f"mapping-{index}-haihai_id") or "").strip(),
            )
        )
    return rows


def rows_to_form(rows: list[MappingRow]) -> list[tuple[str, str]]:
    """The fields the page posts for `rows` (the inverse of rows_from_form)."""
    pairs = []
    for index, row in enumerate(rows):
        pairs.append((f"mapping-{index}-kintone", row.kintone_code))
        if row.haihai_item:
            pairs.append((f"mapping-{index}-haihai", row.haihai_item))
        if row.haihai_item_id:
            pairs.append((f"mapping-{index}-haihai_id", row.haihai_item_id))
    return pairs


def items_by_id(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The synced 配配メール items keyed by ID."""
    return {str(item["id"]): item for item in snapshot.get("items", [])}


def email_item(snapshot: Mapping[str, Any]) -> dict[str, Any] | None:
    """The synced 配配メール 「メールアドレス」 item (whatever its display name now is)."""
    return next((item for item in snapshot.get("items", []) if item.get("is_email")), None)


def resolve_names(rows: list[MappingRow], snapshot: Mapping[str, Any]) -> list[MappingRow]:
    """Synced method: take each row's item name from the item its ID selects."""
    items = items_by_id(snapshot)
    resolved = []
    for row in rows:
        item = items.get(row.haihai_item_id) if row.haihai_item_id else None
        if item is not None:
            resolved.append(replace(row, haihai_item=item["label"]))
        elif row.haihai_item_id:
            resolved.append(replace(row, haihai_item="", haihai_item_id=""))
        else:
            # A name without an ID (typed in the manual method) selects the item of that name.
            match = next(
                (i for i in items.values() if row.haihai_item and i["label"] == row.haihai_item),
                None,
            )
            resolved.append(
                replace(row, haihai_item_id=str(match["id"]))
                if match
                else replace(row, haihai_item="")
            )
    return resolved


def effective_email_name(custom: bool, name: str) -> str:
    """Manual method: the display name of 配配メール's email item (default 「メールアドレス」)."""
    return name.strip() if custom and name.strip() else DEFAULT_EMAIL_DISPLAY_NAME


def addable_fields(
    rows: list[MappingRow], kintone_fields: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Choices of 「1. kintone項目の選択」: unmapped mappable fields; only email-capable ones first."""
    used = {row.kintone_code for row in rows}
    choices = [f for f in mappable_fields(kintone_fields) if f["code"] not in used]
    if not rows:
        choices = [f for f in choices if f["type"] in EMAIL_FIELD_TYPES]
    return choices


def add_row(
    rows: list[MappingRow],
    code: str,
    kintone_fields: Mapping[str, Any],
    *,
    method: str,
    snapshot: Mapping[str, Any],
    email_name: str = DEFAULT_EMAIL_DISPLAY_NAME,
) -> list[MappingRow]:
    """Rows with `code` appended (「追加」); raises MappingRuleError when the rules refuse it."""
    if not code:
        raise MappingRuleError(msg.CHOOSE_FIELD_TO_ADD)
    prop = kintone_fields.get(code)
    if prop is None or not is_mappable(prop):
        raise MappingRuleError(msg.KINTONE_FIELD_UNKNOWN.format(name=code))
    if any(row.kintone_code == code for row in rows):
        raise MappingRuleError(msg.ONE_KINTONE_TO_MANY)
    if not rows and prop.get("type") not in EMAIL_FIELD_TYPES:
        raise MappingRuleError(msg.EMAIL_FIELD_TYPE)
    new = MappingRow(code)
    # Pre-fill what the user would almost always pick; it stays editable.
    if method == HAIHAI_METHOD_SYNCED:
        used = {row.haihai_item_id for row in rows}
        if not rows:
            item = email_item(snapshot)
        else:
            label = str(prop.get("label", ""))
            item = next(
                (
                    i
                    for i in snapshot.get("items", [])
                    if i["label"] == label and not i.get("is_email") and str(i["id"]) not in used
                ),
                None,
            )
        if item is not None:
            new = MappingRow(code, item["label"], str(item["id"]))
    elif not rows:
        new = MappingRow(code, email_name)
    return [*rows, new]


def remove_row(rows: list[MappingRow], index: int) -> list[MappingRow]:
    """Rows without the one at `index` (「×」); the email row goes last of all."""
    if not 0 <= index < len(rows):
        return rows
    if index == 0 and len(rows) > 1:
        raise MappingRuleError(msg.EMAIL_ROW_NOT_REMOVABLE)
    return rows[:index] + rows[index + 1 :]


def validate_rows(
    rows: list[MappingRow],
    *,
    method: str,
    kintone_fields: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    email_custom: bool = False,
    email_display_name: str = "",
) -> dict[str, str]:
    """Every Step4 rule → {form field name: message} (empty when the mapping can be saved)."""
    errors: dict[str, str] = {}
    if not rows:
        return {"mapping": msg.EMAIL_FIRST}
    seen_codes: set[str] = set()
    seen_items: set[str] = set()
    items = items_by_id(snapshot)
    email_manual_name = effective_email_name(email_custom, email_display_name)
    if method == HAIHAI_METHOD_MANUAL and email_custom and not email_display_name.strip():
        errors["email_display_name"] = msg.REQUIRED
    for index, row in enumerate(rows):
        kintone_key, haihai_key = f"mapping-{index}-kintone", f"mapping-{index}-haihai"
        prop = kintone_fields.get(row.kintone_code)
        if prop is None or not is_mappable(prop):
            errors[kintone_key] = msg.KINTONE_FIELD_UNKNOWN.format(name=row.kintone_code)
        elif index == 0 and prop.get("type") not in EMAIL_FIELD_TYPES:
            errors[kintone_key] = msg.EMAIL_FIELD_TYPE
        if row.kintone_code in seen_codes:
            errors[kintone_key] = msg.ONE_KINTONE_TO_MANY
        seen_codes.add(row.kintone_code)

        if method == HAIHAI_METHOD_SYNCED:
            item = items.get(row.haihai_item_id)
            if item is None:
                errors[haihai_key] = msg.HAIHAI_ITEM_REQUIRED_SYNCED
                continue
            if index == 0 and not item.get("is_email"):
                errors[haihai_key] = msg.EMAIL_ITEM_SYNCED
            elif index > 0 and item.get("is_email"):
                errors[haihai_key] = msg.NOT_EMAIL_ITEM_SYNCED
            identity = f"id:{item['id']}"
        else:
            name = row.haihai_item.strip()
            if not name:
                errors[haihai_key] = msg.HAIHAI_ITEM_REQUIRED_MANUAL
                continue
            if len(name) > MAX_ITEM_NAME:
                errors[haihai_key] = msg.TEXT_TOO_LONG
            if index == 0 and name != email_manual_name:
                errors[haihai_key] = msg.EMAIL_NAME_MISMATCH.format(name=email_manual_name)
            identity = f"name:{name}"
        if identity in seen_items:
            errors[haihai_key] = msg.MANY_KINTONE_TO_ONE
        seen_items.add(identity)
    return errors


def describe_rows(
    rows: list[MappingRow], kintone_fields: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rows with what the page shows: kintone label and type name (e.g. 文字列 (1行))."""
    described = []
    for index, row in enumerate(rows):
        prop = kintone_fields.get(row.kintone_code) or {}
        described.append(
            {
                "index": index,
                "is_email": index == 0,
                "kintone_code": row.kintone_code,
                "kintone_label": str(prop.get("label", row.kintone_code)),
                "kintone_type": prop.get("type", ""),
                "kintone_type_label": type_label(prop["type"]) if prop.get("type") else "",
                "haihai_item": row.haihai_item,
                "haihai_item_id": row.haihai_item_id,
            }
        )
    return described
