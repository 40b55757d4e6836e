"""The メッセージ詳細 of an import run, worded as manual §2.3.7 / §2.3.8 show it (pure).

Per stream (event type or form) with something to say: its name, then
「連携されたデータ: <from> ~ <to>」 when events were imported, then the manual's three sentences
and 「連携除外期間: <from> ~ <to>」 when a 差分 run had to skip a period. The dialog adds the
タスクID line itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from portal.connector_types.haihai_kintone.event_import.window import format_detail_time

EXCLUDED_NOTICE = (
    "以下の期間のデータはkintoneに連携されませんでした。\n"
    "手動実行画面より「全件」を指定し、必要な期間のデータの連携処理を行ってください。\n"
    "(期間の指定は、最大7日間となります)"
)


@dataclass(frozen=True)
class StreamReport:
    """What one stream of a run imported and skipped."""

    label: str
    imported: tuple[dt.datetime, dt.datetime] | None = None  # first .. last imported data
    excluded: tuple[dt.datetime, dt.datetime] | None = None  # 連携除外期間 (inclusive)

    @property
    def has_detail(self) -> bool:
        """True when the stream appears in メッセージ詳細."""
        return self.imported is not None or self.excluded is not None


def imported_range(
    window_start: dt.datetime, first_written: dt.datetime | None, last_written: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime] | None:
    """「連携されたデータ」 of a stream: from its window start (or an earlier late event) to the
    newest event written; None when nothing was written."""
    if first_written is None or last_written is None:
        return None
    return (min(window_start, first_written), last_written)


def message_detail(reports: Iterable[StreamReport], timezone: str) -> str | None:
    """The メッセージ詳細 text, or None when no stream has anything to report."""
    blocks = []
    for report in reports:
        if not report.has_detail:
            continue
        lines = [report.label]
        if report.imported is not None:
            start, end = (format_detail_time(t, timezone) for t in report.imported)
            lines.append(f"連携されたデータ: {start} ~ {end}")
        if report.excluded is not None:
            start, end = (format_detail_time(t, timezone) for t in report.excluded)
            if report.imported is not None:
                lines.append("")
            lines.append(EXCLUDED_NOTICE)
            lines.append(f"連携除外期間: {start} ~ {end}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else None
