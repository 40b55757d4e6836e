"""Value formats the import processes write into kintone (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any


def one_line(value: str | None) -> str:
    """Text for a 文字列 (1行) field: line breaks become spaces."""
    if not value:
        return ""
    if "\n" in value or "\r" in value:
        value = " ".join(value.replace("\r", " ").split("\n"))
    return value.strip()


def kintone_number(value: Any) -> str:
    """A NUMBER value as kintone answers it (`007` → `7`); "" when not a number."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    if text.isascii() and text.isdigit():
        return str(int(text))
    try:
        number = Decimal(text)
    except InvalidOperation:
        return ""
    if not number.is_finite():
        return ""
    return str(number.quantize(Decimal(1))) if number == number.to_integral() else str(number)


def local_text(moment: dt.datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` of an aware time in its own zone (no fraction)."""
    return moment.replace(microsecond=0, tzinfo=None).isoformat(" ")


class KintoneMinutes:
    """DATETIME values for kintone: the UTC minute of a Unix time (kintone drops the seconds),
    cached per minute since many events share one."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def __call__(self, stamp: int) -> str:
        minute = stamp - stamp % 60
        text = self._cache.get(minute)
        if text is None:
            moment = dt.datetime.fromtimestamp(minute, dt.UTC).replace(tzinfo=None)
            text = self._cache[minute] = moment.isoformat()[:16] + ":00Z"
        return text
