"""kintone record values → 配配メール CSV cells (manual 付録1.1). Pure; no I/O.

Rules:

* 日時 / 作成日時 / 更新日時 → `YYYY-MM-DD`, the day in the account's time zone (kintone sends
  UTC, e.g. `2022-12-31T15:34:00Z` is 2023-01-01 in Japan).
* 日付 → as kintone sends it (`YYYY-MM-DD`).
* チェックボックス / 複数選択 / ドロップダウン / ラジオボタン / ステータス → the option labels with
  `,`, `{`, `}` and half-width spaces removed (配配メール cannot hold them in an option); several
  options are joined with `,`, the 配配メール multi-value separator (「[関東],[関西]」 → `関東,関西`).
* ユーザー選択 / 組織選択 / グループ選択 → the entities' display names, cleaned and joined the
  same way (the recommended 配配メール item is セレクトボックス(複数選択)); 作成者 / 更新者 / 作業者
  → the name(s) as text.
* 数値 / 計算 / レコード番号 → the value as text; text types as they are; empty → "".
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.syncs.config import FieldMapping

# Types the 連携項目設定 dialog may offer (付録1.1 table) and the recommended 配配メール item.
MAPPABLE_TYPES: dict[str, str] = {
    "CHECK_BOX": "チェックボックス",
    "MULTI_SELECT": "セレクトボックス(複数選択)",
    "DROP_DOWN": "セレクトボックス(単一選択)",
    "RADIO_BUTTON": "ラジオボタン",
    "DATE": "日付",
    "DATETIME": "日付",
    "CREATED_TIME": "日付",
    "UPDATED_TIME": "日付",
    "SINGLE_LINE_TEXT": "テキストボックス",
    "LINK": "テキストボックス",
    "MULTI_LINE_TEXT": "テキストエリア",
    "NUMBER": "数値(整数) or 数値(小数)",
    "CALC": "数値(整数) or 数値(小数)",
    "RECORD_NUMBER": "数値(整数) or 数値(小数)",
    "USER_SELECT": "セレクトボックス(複数選択)",
    "GROUP_SELECT": "セレクトボックス(複数選択)",
    "ORGANIZATION_SELECT": "セレクトボックス(複数選択)",
    "STATUS": "ラジオボタン",
    "STATUS_ASSIGNEE": "テキストボックス",
    "CREATOR": "テキストボックス",
    "MODIFIER": "テキストボックス",
}

MULTI_VALUE_SEPARATOR = ","
_FORBIDDEN_IN_OPTIONS = str.maketrans("", "", ",{} ")
_DATETIME_TYPES = frozenset({"DATETIME", "CREATED_TIME", "UPDATED_TIME"})
_CHOICE_LIST_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT", "CATEGORY"})
_CHOICE_ONE_TYPES = frozenset({"DROP_DOWN", "RADIO_BUTTON", "STATUS"})
_ENTITY_OPTION_TYPES = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"})
_ENTITY_TEXT_TYPES = frozenset({"STATUS_ASSIGNEE"})
_ENTITY_ONE_TYPES = frozenset({"CREATOR", "MODIFIER"})
_PLAIN_TYPES = frozenset(
    {
        "SINGLE_LINE_TEXT",
        "LINK",
        "MULTI_LINE_TEXT",
        "NUMBER",
        "CALC",
        "RECORD_NUMBER",
        "DATE",
        "TIME",
        "__ID__",
        "__REVISION__",
    }
)
_TAG = re.compile(r"<[^>]*>")
_BREAK_TAGS = re.compile(r"<\s*(?:br|/p|/div|/li)\s*/?\s*>", re.IGNORECASE)


class UnsupportedFieldTypeError(ValueError):
    """A mapping names a kintone field type that cannot be sent to 配配メール (file, table…)."""

    def __init__(self, field_type: str, label: str = ""):
        self.field_type = field_type
        self.label = label
        super().__init__(
            f"kintoneのフィールド「{label or field_type}」（{field_type}）は配配メールへ連携できません。"
        )

    @property
    def user_message(self) -> str:
        """Japanese text naming the field."""
        return str(self)


def clean_choice_label(label: str) -> str:
    """An option label as 配配メール can hold it: `,`, `{`, `}` and half-width spaces removed."""
    return label.translate(_FORBIDDEN_IN_OPTIONS)


def _join_choices(labels: Sequence[str]) -> str:
    cleaned = (clean_choice_label(str(label)) for label in labels if label is not None)
    return MULTI_VALUE_SEPARATOR.join(label for label in cleaned if label)


def _entity_names(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        value = [value]
    names = []
    for entity in value or ():
        if isinstance(entity, Mapping):
            name = entity.get("name") or entity.get("code") or ""
            names.append(str(name))
    return names


def rich_text_to_plain(value: str) -> str:
    """Rich text (HTML) as plain text: line-breaking tags become newlines, tags go, entities decode."""
    text = _BREAK_TAGS.sub("\n", value)
    return html.unescape(_TAG.sub("", text)).strip()


def datetime_to_local_date(value: str, tz: dt.tzinfo) -> str:
    """kintone's UTC datetime (`2022-12-31T15:34:00Z`) → the local day `YYYY-MM-DD` in `tz`."""
    moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).date().isoformat()


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def value_converter(field_type: str, tz: str | dt.tzinfo = "Asia/Tokyo") -> Callable[[Any], str]:
    """A function turning one kintone `value` of `field_type` into a CSV cell (str, "" if empty).

    Raises UnsupportedFieldTypeError for types that cannot be sent (FILE, SUBTABLE, …).
    """
    if field_type in _DATETIME_TYPES:
        zone = _zone(tz)
        cache: dict[str, str] = {}

        def convert_datetime(value: Any) -> str:
            if not value:
                return ""
            text = str(value)
            day = cache.get(text)
            if day is None:
                day = datetime_to_local_date(text, zone)
                # kintone keeps minutes, so bulk-created records share timestamps; cap the cache.
                if len(cache) < 4096:
                    cache[text] = day
            return day

        return convert_datetime
    if field_type in _CHOICE_LIST_TYPES:
        return lambda value: _join_choices(value) if value else ""
    if field_type in _CHOICE_ONE_TYPES:
        return lambda value: clean_choice_label(str(value)) if value else ""
    if field_type in _ENTITY_OPTION_TYPES:
        return lambda value: _join_choices(_entity_names(value)) if value else ""
    if field_type in _ENTITY_TEXT_TYPES or field_type in _ENTITY_ONE_TYPES:
        return lambda value: MULTI_VALUE_SEPARATOR.join(_entity_names(value)) if value else ""
    if field_type == "RICH_TEXT":
        return lambda value: rich_text_to_plain(str(value)) if value else ""
    if field_type in _PLAIN_TYPES:
        return lambda value: "" if value is None else str(value)
    raise UnsupportedFieldTypeError(field_type)


def convert_value(field_type: str, value: Any, tz: str | dt.tzinfo = "Asia/Tokyo") -> str:
    """Convert one kintone value for the 配配メール CSV (see the module rules)."""
    return value_converter(field_type, tz)(value)


def email_key(email: str) -> str:
    """Comparison key of an address as 配配メール matches customers: the local part exactly,
    the domain lower-cased, surrounding whitespace ignored."""
    text = email.strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    return f"{local}@{domain.lower()}"


class RowConverter:
    """Turns kintone records into CSV rows for a fixed list of mappings (email column first).

    `headers` are the 配配メール item names (the email column is `email_header`); `codes` are
    the kintone field codes to request; `row(record)` returns the cells in header order.
    """

    def __init__(
        self,
        mappings: Sequence[FieldMapping],
        *,
        email_header: str | None = None,
        tz: str | dt.tzinfo = "Asia/Tokyo",
    ):
        email = [m for m in mappings if m.is_email]
        if len(email) != 1:
            raise ValueError("exactly one mapping must be the mail-address field")
        ordered = email + [m for m in mappings if not m.is_email]
        self.mappings = tuple(ordered)
        self.codes = tuple(m.kintone_code for m in ordered)
        self.headers = tuple(
            (email_header or m.haihai_item) if m.is_email else m.haihai_item for m in ordered
        )
        converters = []
        for mapping in ordered:
            try:
                converters.append(value_converter(mapping.kintone_type, tz))
            except UnsupportedFieldTypeError as error:
                raise UnsupportedFieldTypeError(
                    mapping.kintone_type, mapping.kintone_label
                ) from error
        self._plan = tuple(zip(self.codes, converters, strict=True))

    def row(self, record: Mapping[str, Any]) -> list[str]:
        """Cells of one record in header order; the email cell is stripped of whitespace."""
        cells = []
        for code, convert in self._plan:
            entry = record.get(code)
            cells.append(convert(entry.get("value") if isinstance(entry, Mapping) else None))
        cells[0] = cells[0].strip()
        return cells
