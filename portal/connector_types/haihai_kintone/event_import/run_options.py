"""The 実行 page's options of the import processes: 差分 / 全件, the range, the 連携対象 (Step8 and
Step9 share the block; each process gives its streams and their watermarks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.event_import.run import FULL_PARAMS, MODE_DIFF, MODE_FULL
from portal.connector_types.haihai_kintone.event_import.watermarks import Watermark
from portal.connector_types.haihai_kintone.event_import.window import (
    FULL_SPAN_DAYS,
    FullRange,
    RangeInvalid,
    format_jp_time,
)
from portal.models.common import utcnow
from portal.syncs.context import RunOptionsInvalid

MSG_MODE = "差分または全件を選択してください。"


def watermark_lines(
    streams: Sequence[tuple[str, str]],
    watermarks: Mapping[str, Watermark],
    timezone: str,
    *,
    separator: str = ": ",
    gap: str = " ",
) -> list[dict[str, str]]:
    """「メール開封: 2023年06月07日 20:21:04 まで連携済」 per stream (or that none was imported)."""
    lines = []
    for key, label in streams:
        mark = watermarks.get(key)
        if mark is None:
            text = f"{label}{separator}未連携（初回は実行日の0時00分以降のデータを連携します）"
        else:
            text = (
                f"{label}{separator}{format_jp_time(mark.imported_until, timezone)}{gap}まで連携済"
            )
        lines.append({"key": key, "label": label, "text": text})
    return lines


def range_defaults(timezone: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The 全件 inputs as first shown: the last seven days up to today, 00:00 – 23:59."""
    today = (now or utcnow()).astimezone(ZoneInfo(timezone)).date()
    return {
        "start_date": (today - dt.timedelta(days=FULL_SPAN_DAYS - 1)).isoformat(),
        "end_date": today.isoformat(),
        "start_hour": 0,
        "start_minute": 0,
        "end_hour": 23,
        "end_minute": 59,
        "hours": list(range(24)),
        "minutes": list(range(60)),
    }


def posted_mode(form: Any) -> dict[str, Any]:
    """{"mode": …} plus the 全件 range of a posted 実行 form; RunOptionsInvalid when refused."""
    mode = form.get("mode") or MODE_DIFF
    if mode not in (MODE_DIFF, MODE_FULL):
        raise RunOptionsInvalid(MSG_MODE)
    params: dict[str, Any] = {"mode": mode}
    if mode == MODE_FULL:
        try:
            full = FullRange.parse(*(form.get(name) for name in FULL_PARAMS))
        except RangeInvalid as invalid:
            raise RunOptionsInvalid(invalid.message) from invalid
        params.update(full.to_params())
    return params
