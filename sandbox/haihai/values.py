"""Customer-DB value rules (spec §4.1): item types, input rules, the email key."""

from __future__ import annotations

import datetime as dt
import re
import sys

from .model import MAX_VALUE_LENGTH, Item

ITEM_TYPES = (
    "text",
    "textarea",
    "select",
    "multiselect",
    "radio",
    "checkbox",
    "date",
    "int",
    "decimal",
    "email",
)
ITEM_TYPE_LABELS = {
    "text": "テキストボックス",
    "textarea": "テキストエリア",
    "select": "セレクトボックス(単一選択)",
    "multiselect": "セレクトボックス(複数選択)",
    "radio": "ラジオボタン",
    "checkbox": "チェックボックス",
    "date": "日付",
    "int": "数値(整数)",
    "decimal": "数値(小数)",
    "email": "メールアドレス",
}
MULTI_TYPES = frozenset({"multiselect", "checkbox"})
CHOICE_TYPES = frozenset({"select", "radio"}) | MULTI_TYPES
MULTI_SEPARATOR = ","
# Characters the product refuses in choice labels (manual 付録1.1: `,`, `{}` and half-width space).
FORBIDDEN_OPTION_CHARS = frozenset(",{} ")

INPUT_RULES = {
    "none": None,
    "hiragana": (re.compile(r"^[ぁ-ゖー　]*$"), "全角ひらがなで入力してください"),
    "katakana": (re.compile(r"^[ァ-ヶー　]*$"), "全角カタカナで入力してください"),
    "halfwidth_alnum": (re.compile(r"^[0-9A-Za-z]*$"), "半角英数字で入力してください"),
    "numeric": (re.compile(r"^[0-9]*$"), "半角数字で入力してください"),
}

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_DATE_RE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
_INT_RE = re.compile(r"^-?[0-9]+$")
_DECIMAL_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
MAX_EMAIL_LENGTH = 256


class ValueInvalid(ValueError):
    """A cell does not satisfy its item's type or input rule; `message` is user-facing Japanese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def email_key(email: str) -> str | None:
    """The unique key of an address (exact local part, lower-cased domain), None if invalid."""
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_RE.match(email):
        return None
    local, _, domain = email.rpartition("@")
    lowered = domain.lower()
    if lowered == domain:
        return email
    return f"{local}@{lowered}"


def normalize_date(text: str) -> str | None:
    """`YYYY/MM/DD` for a real calendar date written with `/` or `-`, else None."""
    match = _DATE_RE.match(text)
    if not match:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    return f"{year:04d}/{month:02d}/{day:02d}"


def convert_value(item: Item, text: str) -> str | tuple:
    """Validate a non-blank cell for `item` and return the stored form; raise ValueInvalid."""
    kind = item.type
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueInvalid(f"{MAX_VALUE_LENGTH}文字以内で入力してください")
    if kind in ("text", "textarea"):
        if kind == "text" and ("\n" in text or "\r" in text):
            raise ValueInvalid("改行は入力できません")
        rule = INPUT_RULES.get(item.input_rule)
        if rule is not None and not rule[0].match(text):
            raise ValueInvalid(rule[1])
        return text
    if kind in ("select", "radio"):
        if text not in item.option_set:
            raise ValueInvalid(f"選択肢にない値です（{text}）")
        return item.shared[text]
    if kind in MULTI_TYPES:
        chosen = {part for part in text.split(MULTI_SEPARATOR) if part != ""}
        unknown = sorted(chosen - item.option_set)
        if unknown:
            raise ValueInvalid(f"選択肢にない値です（{'、'.join(unknown)}）")
        # Stored in the item's option order, as the product's checkboxes would show them.
        combo = tuple(option for option in item.options if option in chosen)
        return item.shared.setdefault(combo, combo)
    if kind == "date":
        normalized = normalize_date(text)
        if normalized is None:
            raise ValueInvalid("日付の形式が正しくありません（YYYY/MM/DD）")
        # Calendar days repeat a lot across customers; keep one copy of each.
        return sys.intern(normalized)
    if kind == "int":
        if not _INT_RE.match(text):
            raise ValueInvalid("半角数字（整数）で入力してください")
        return text
    if kind == "decimal":
        if not _DECIMAL_RE.match(text):
            raise ValueInvalid("半角数字（小数）で入力してください")
        return text
    if kind == "email":
        if email_key(text) is None:
            raise ValueInvalid("メールアドレスの形式が正しくありません")
        return text
    raise ValueInvalid(f"未対応の項目タイプです（{kind}）")


def convert_json_value(item: Item, value) -> str | tuple:
    """Like convert_value for admin/answer JSON, where multi-choice values may be lists."""
    if isinstance(value, list | tuple):
        if item.type not in MULTI_TYPES:
            raise ValueInvalid("複数の値は指定できません")
        value = MULTI_SEPARATOR.join(str(part) for part in value)
    elif value is None:
        value = ""
    elif not isinstance(value, str):
        value = str(value)
    if value == "":
        return () if item.type in MULTI_TYPES else ""
    return convert_value(item, value)


def is_blank(value) -> bool:
    """Whether a stored value counts as empty."""
    return value == "" or value == () or value is None


def output_value(item: Item, value) -> str | list[str]:
    """JSON form of a stored value: list for multi-choice items, str otherwise."""
    if item.type in MULTI_TYPES:
        return list(value) if value else []
    return value if value is not None else ""


def text_value(value) -> str:
    """Flat text of a stored value (multi-choice joined with `,`)."""
    if isinstance(value, tuple | list):
        return MULTI_SEPARATOR.join(value)
    return value or ""
