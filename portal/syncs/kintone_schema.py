"""kintone field definitions: which types can be mapped, their Japanese names, and schema diffs.

Pure functions over the `properties` object of `app/form/fields.json` (no I/O). The diff drives
「kintone項目の同期」: a changed label only warns; a removed field, a changed 必須 / 重複禁止 flag,
a changed default or a removed option is an error that removes the settings using the field
(manual 付録6.1).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MappableType:
    """A kintone field type the 配配メール connector can map (manual 付録1.1)."""

    type: str
    label: str  # the type name kintone's form settings show, in the portal's display style
    manual_label: str  # the 「kintone データ型」 column of 付録1.1
    recommended: str  # the 「配配メール 推奨項目」 column of 付録1.1


# Order and wording of the table in 付録1.1 「以下の『kintone』項目が連携可能です。」.
MAPPABLE_TYPES: tuple[MappableType, ...] = (
    MappableType("CHECK_BOX", "チェックボックス", "チェックボックス", "チェックボックス"),
    MappableType("MULTI_SELECT", "複数選択", "複数選択", "セレクトボックス(複数選択)"),
    MappableType("DROP_DOWN", "ドロップダウン", "ドロップダウン", "セレクトボックス(単一選択)"),
    MappableType("RADIO_BUTTON", "ラジオボタン", "ラジオボタン", "ラジオボタン"),
    MappableType("DATE", "日付", "日付", "日付"),
    MappableType("DATETIME", "日時", "日時", "日付"),
    MappableType("CREATED_TIME", "作成日時", "作成日時", "日付"),
    MappableType("UPDATED_TIME", "更新日時", "更新日時", "日付"),
    MappableType("SINGLE_LINE_TEXT", "文字列 (1行)", "文字列(1行)", "テキストボックス"),
    MappableType("LINK", "リンク", "リンク", "テキストボックス"),
    MappableType("MULTI_LINE_TEXT", "文字列 (複数行)", "文字列(複数行)", "テキストエリア"),
    MappableType("NUMBER", "数値", "数値", "数値(整数) or 数値(小数)"),
    MappableType("CALC", "計算", "計算", "数値(整数) or 数値(小数)"),
    MappableType("RECORD_NUMBER", "レコード番号", "レコード番号", "数値(整数) or 数値(小数)"),
    MappableType("USER_SELECT", "ユーザー選択", "ユーザー選択", "セレクトボックス(複数選択)"),
    MappableType("GROUP_SELECT", "グループ選択", "グループ選択", "セレクトボックス(複数選択)"),
    MappableType("ORGANIZATION_SELECT", "組織選択", "組織選択", "セレクトボックス(複数選択)"),
    MappableType("STATUS", "ステータス", "ステータス(プロセス管理)", "ラジオボタン"),
    MappableType("STATUS_ASSIGNEE", "作業者", "作業中(プロセス管理)", "テキストボックス"),
    MappableType("CREATOR", "作成者", "作成者", "テキストボックス"),
    MappableType("MODIFIER", "更新者", "更新者", "テキストボックス"),
)
MAPPABLE_TYPE_CODES: frozenset[str] = frozenset(t.type for t in MAPPABLE_TYPES)
_MAPPABLE_BY_TYPE = {t.type: t for t in MAPPABLE_TYPES}

# Names of the remaining types as kintone's form settings call them.
TYPE_LABELS: dict[str, str] = {
    **{t.type: t.label for t in MAPPABLE_TYPES},
    "RICH_TEXT": "リッチエディター",
    "TIME": "時刻",
    "FILE": "添付ファイル",
    "SUBTABLE": "テーブル",
    "REFERENCE_TABLE": "関連レコード一覧",
    "GROUP": "グループ",
    "LABEL": "ラベル",
    "SPACER": "スペース",
    "HR": "罫線",
    "CATEGORY": "カテゴリー",
    "__ID__": "レコードID",
    "__REVISION__": "リビジョン",
}

# Types whose `unique` flag kintone keeps (it silently drops it on every other type).
UNIQUE_CAPABLE_TYPES = frozenset({"SINGLE_LINE_TEXT", "NUMBER", "LINK", "DATE", "DATETIME"})
_OPTION_TYPES = frozenset({"CHECK_BOX", "RADIO_BUTTON", "DROP_DOWN", "MULTI_SELECT"})
_PROCESS_TYPES = frozenset({"STATUS", "STATUS_ASSIGNEE", "CATEGORY"})


def type_label(field_type: str) -> str:
    """Japanese name of a field type as kintone shows it (the type code itself if unknown)."""
    return TYPE_LABELS.get(field_type, field_type)


def recommended_haihai_type(field_type: str) -> str | None:
    """The 配配メール item type 付録1.1 recommends for a kintone type (None if not mappable)."""
    mappable = _MAPPABLE_BY_TYPE.get(field_type)
    return mappable.recommended if mappable else None


def is_mappable(prop: Mapping[str, Any]) -> bool:
    """Whether a top-level field can be mapped (type in 付録1.1; process fields only if enabled)."""
    field_type = prop.get("type")
    if field_type not in MAPPABLE_TYPE_CODES:
        return False
    if field_type in _PROCESS_TYPES:
        return _flag(prop.get("enabled", True))
    return True


def mappable_fields(properties: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Top-level mappable fields as `{code, label, type, type_label}`, in `properties` order."""
    return [
        {
            "code": code,
            "label": str(prop.get("label", code)),
            "type": prop["type"],
            "type_label": type_label(prop["type"]),
        }
        for code, prop in properties.items()
        if is_mappable(prop)
    ]


def option_names(prop: Mapping[str, Any]) -> list[str]:
    """Option names of a selection field in kintone's display order (by `index`)."""
    options = prop.get("options") or {}
    return sorted(options, key=lambda name: (_int(options[name].get("index")), name))


class ChangeKind(enum.StrEnum):
    """What changed about one field between two syncs."""

    ADDED = "added"
    REMOVED = "removed"
    TYPE_CHANGED = "type_changed"
    LABEL_CHANGED = "label_changed"
    REQUIRED_CHANGED = "required_changed"
    UNIQUE_CHANGED = "unique_changed"
    DEFAULT_CHANGED = "default_changed"
    OPTIONS_REMOVED = "options_removed"
    OPTIONS_ADDED = "options_added"


# Only a renamed label is a warning (settings follow it); added fields/options break nothing.
WARNING_KINDS = frozenset({ChangeKind.LABEL_CHANGED})
NEUTRAL_KINDS = frozenset({ChangeKind.ADDED, ChangeKind.OPTIONS_ADDED})


@dataclass(frozen=True)
class FieldChange:
    """One difference between the old and the new definition of a field."""

    code: str
    kind: ChangeKind
    old_label: str | None
    new_label: str | None
    field_type: str | None = None
    table: str | None = None  # the subtable holding the field, if any
    old_value: Any = None
    new_value: Any = None
    options: tuple[str, ...] = ()  # removed or added option names

    @property
    def is_error(self) -> bool:
        """Whether the settings that use this field must be removed (manual 付録6.1 ②)."""
        return self.kind not in WARNING_KINDS and self.kind not in NEUTRAL_KINDS

    @property
    def is_warning(self) -> bool:
        """Whether the change only warns (manual 付録6.1 ①)."""
        return self.kind in WARNING_KINDS

    @property
    def label(self) -> str:
        """The label to show: the new one when the field still exists."""
        return self.new_label or self.old_label or self.code


def flatten_fields(
    properties: Mapping[str, Mapping[str, Any]],
) -> Iterator[tuple[str, Mapping[str, Any], str | None]]:
    """Every field as (code, property, table code or None), subtable cells included."""
    for code, prop in properties.items():
        yield code, prop, None
        if prop.get("type") == "SUBTABLE":
            for inner_code, inner in (prop.get("fields") or {}).items():
                yield inner_code, inner, code


def diff_fields(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[FieldChange]:
    """Classify the differences between two `properties` objects, in a stable order.

    Fields are matched by code (codes are unique app-wide, subtable cells included). A field whose
    type differs counts as TYPE_CHANGED only (its other attributes are not comparable).
    """
    old_flat = {code: (prop, table) for code, prop, table in flatten_fields(old)}
    new_flat = {code: (prop, table) for code, prop, table in flatten_fields(new)}
    changes: list[FieldChange] = []
    for code, (prop, table) in old_flat.items():
        if code not in new_flat:
            changes.append(
                FieldChange(code, ChangeKind.REMOVED, _label(prop), None, prop.get("type"), table)
            )
            continue
        new_prop, new_table = new_flat[code]
        changes.extend(_compare(code, prop, new_prop, new_table))
    for code, (prop, table) in new_flat.items():
        if code not in old_flat:
            changes.append(
                FieldChange(code, ChangeKind.ADDED, None, _label(prop), prop.get("type"), table)
            )
    return changes


def _compare(
    code: str, old: Mapping[str, Any], new: Mapping[str, Any], table: str | None
) -> Iterator[FieldChange]:
    old_label, new_label = _label(old), _label(new)
    field_type = new.get("type")

    def change(kind: ChangeKind, old_value: Any = None, new_value: Any = None, options=()):
        return FieldChange(
            code, kind, old_label, new_label, field_type, table, old_value, new_value, options
        )

    if old.get("type") != new.get("type"):
        yield change(ChangeKind.TYPE_CHANGED, old.get("type"), new.get("type"))
        return
    if old_label != new_label:
        yield change(ChangeKind.LABEL_CHANGED, old_label, new_label)
    old_required, new_required = _flag(old.get("required")), _flag(new.get("required"))
    if old_required != new_required:
        yield change(ChangeKind.REQUIRED_CHANGED, old_required, new_required)
    old_unique, new_unique = _unique(old), _unique(new)
    if old_unique != new_unique:
        yield change(ChangeKind.UNIQUE_CHANGED, old_unique, new_unique)
    old_default, new_default = _default(old), _default(new)
    if old_default != new_default:
        yield change(ChangeKind.DEFAULT_CHANGED, old_default, new_default)
    if field_type in _OPTION_TYPES or "options" in old or "options" in new:
        old_options = option_names(old)
        new_options = option_names(new)
        removed = tuple(name for name in old_options if name not in set(new_options))
        added = tuple(name for name in new_options if name not in set(old_options))
        if removed:
            yield change(ChangeKind.OPTIONS_REMOVED, old_options, new_options, removed)
        if added:
            yield change(ChangeKind.OPTIONS_ADDED, old_options, new_options, added)


def _label(prop: Mapping[str, Any]) -> str | None:
    label = prop.get("label")
    return str(label) if label is not None else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _unique(prop: Mapping[str, Any]) -> bool:
    return prop.get("type") in UNIQUE_CAPABLE_TYPES and _flag(prop.get("unique"))


def _default(prop: Mapping[str, Any]) -> tuple[Any, bool]:
    """Comparable default: the normalised `defaultValue` plus the `defaultNowValue` flag."""
    return _normalise_default(prop.get("defaultValue")), _flag(prop.get("defaultNowValue"))


def _normalise_default(value: Any) -> Any:
    # null, "" and [] all mean "no default"; list order carries no meaning for selections.
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        items = [
            (str(v.get("type", "")), str(v.get("code", "")))
            if isinstance(v, Mapping)
            else ("", str(v))
            for v in value
        ]
        return tuple(sorted(items))
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    return str(value)
