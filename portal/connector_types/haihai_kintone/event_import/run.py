"""What the reaction and Bridge run handlers share: the 実行 page's options, the streams of a run
and their windows, the clients, the check of the app before writing, the watermarks and the
messages of a finished or failed import."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.connector_types.haihai_kintone.event_import import watermarks as marks
from portal.connector_types.haihai_kintone.event_import.detail import (
    StreamReport,
    imported_range,
    message_detail,
)
from portal.connector_types.haihai_kintone.event_import.engine import ImportResult
from portal.connector_types.haihai_kintone.event_import.fields import FixedField, check_app
from portal.connector_types.haihai_kintone.event_import.mapping import MAPPABLE_TYPES, ItemMapping
from portal.connector_types.haihai_kintone.event_import.window import (
    FullRange,
    RangeInvalid,
    Window,
    diff_window,
)
from portal.integrations import kintone as kintone_api
from portal.integrations.haihai import HaihaiClient, HaihaiError
from portal.integrations.ledger import BudgetExceeded
from portal.messages.haihai import haihai_error_code, haihai_message
from portal.messages.kintone import KintoneStep, kintone_error_code, kintone_message
from portal.syncs.clients import MSG_NO_HAIHAI, haihai_client, kintone_client, run_ledgers
from portal.syncs.config import HaihaiAccess, KintoneAccess
from portal.syncs.context import RunFailed
from portal.syncs.kintone_schema import type_label

log = logging.getLogger(__name__)

MODE_DIFF = "diff"  # 差分
MODE_FULL = "full"  # 全件
MODE_LABELS = {MODE_DIFF: "差分", MODE_FULL: "全件"}
FULL_PARAMS = ("start_date", "start_hour", "start_minute", "end_date", "end_hour", "end_minute")
MSG_BAD_APP = "連携先kintoneアプリの接続設定が正しくありません。連携設定画面で確認してください。"
OVERLAP_SETTING = "EVENT_IMPORT_OVERLAP_MINUTES"
DEFAULT_OVERLAP_MINUTES = 60  # how far behind its watermark a 差分 run re-reads late events


@dataclass(frozen=True)
class Stream:
    """One watermark line of a run: an event type or a Bridge form, with its window."""

    key: str
    label: str
    window: Window
    previous: marks.Watermark | None = None


def overlap(app_config: Mapping[str, Any]) -> dt.timedelta:
    """The overlap re-read behind each watermark (EVENT_IMPORT_OVERLAP_MINUTES, default 60)."""
    try:
        minutes = int(app_config.get(OVERLAP_SETTING) or DEFAULT_OVERLAP_MINUTES)
    except (TypeError, ValueError):
        minutes = DEFAULT_OVERLAP_MINUTES
    return dt.timedelta(minutes=max(0, minutes))


def run_mode(params: Mapping[str, Any]) -> tuple[str, FullRange | None]:
    """(差分 or 全件, the 全件 range) of a run's parameters; RangeInvalid for a bad range."""
    mode = str(params.get("mode") or MODE_DIFF)
    if mode != MODE_FULL:
        return MODE_DIFF, None
    return MODE_FULL, FullRange.parse(*(params.get(name) for name in FULL_PARAMS))


def plan_streams(
    choices: Sequence[tuple[str, str]],
    *,
    mode: str,
    full_range: FullRange | None,
    now: dt.datetime,
    timezone: str,
    watermarks: Mapping[str, marks.Watermark],
    overlap_window: dt.timedelta,
) -> list[Stream]:
    """The streams (key, label) of a run with their windows (差分 from each watermark)."""
    streams = []
    for key, label in choices:
        previous = watermarks.get(key)
        if mode == MODE_FULL and full_range is not None:
            window = full_range.window(timezone)
        else:
            since = previous.imported_until if previous else None
            window = diff_window(now, since, timezone, overlap_window)
        streams.append(Stream(key, label, window, previous))
    return streams


# --- clients ---------------------------------------------------------------------------------


def clients(
    app: KintoneAccess, haihai: HaihaiAccess | None, *, allow_local: bool, redis_conn=None
) -> tuple[kintone_api.KintoneClient, HaihaiClient]:
    """The run's clients of the process's app and of 配配メール (daily budgets shared through
    Redis; kintone's count is recorded, never refused); RunFailed when settings are malformed."""
    if haihai is None:
        raise RunFailed(MSG_NO_HAIHAI, code="settings")
    ledgers = run_ledgers(redis_conn, kintone_daily_limit=None)
    try:
        kintone = kintone_client(app, ledger=ledgers.kintone)
    except ValueError as error:
        raise RunFailed(MSG_BAD_APP, code="settings") from error
    try:
        return kintone, haihai_client(haihai, allow_local=allow_local, ledger=ledgers.haihai)
    except BaseException as error:
        kintone.close()
        if isinstance(error, ValueError):
            raise RunFailed(MSG_NO_HAIHAI, code="settings") from error
        raise


# --- before writing --------------------------------------------------------------------------


def check_before_writing(
    properties: Mapping[str, Mapping[str, Any]],
    fixed: Sequence[FixedField],
    mappings: Sequence[ItemMapping],
    *,
    app_id: str,
    step_title: str,
    process_name: str,
) -> None:
    """RunFailed naming every fixed or mapped field the app lost or retyped (nothing written)."""
    lines = [p.message for p in check_app(properties, fixed) if p.blocks_runs]
    for mapped in mappings:
        prop = properties.get(mapped.kintone_code)
        if prop is None:
            lines.append(
                f"連携項目のフィールド（フィールドコード: {mapped.kintone_code}、"
                f"配配メール項目「{mapped.haihai_item}」）がありません。"
            )
        elif prop.get("type") != mapped.kintone_type or prop.get("type") not in MAPPABLE_TYPES:
            lines.append(
                f"連携項目のフィールド「{prop.get('label', mapped.kintone_code)}」"
                f"（フィールドコード: {mapped.kintone_code}）のフィールドの種類が"
                f"{type_label(str(prop.get('type')))}に変更されています。"
            )
    if lines:
        raise RunFailed(
            f"{process_name}の連携先kintoneアプリ（アプリID: {app_id}）のフィールドが"
            "連携に必要な設定と異なるため、処理を中止しました（kintoneへの登録は行っていません）。\n"
            + "\n".join(lines)
            + f"\n「{step_title}」で「kintone項目の同期」を行い、「アプリを確認」で内容を確認してください。",
            code="field_missing",
        )


def count_existing(
    kintone: kintone_api.KintoneClient,
    app: int,
    queries: Iterable[str],
    fields: Sequence[str],
    identity: Callable[[Mapping[str, Any]], bytes],
) -> Counter[bytes]:
    """How many records of each identity the app holds for the given queries."""
    existing: Counter[bytes] = Counter()
    for query in queries:
        records = kintone.iter_records(app, query, fields=list(fields))
        try:
            for record in records:
                existing[identity(record)] += 1
        finally:
            records.close()
    return existing


def kintone_time(moment: dt.datetime) -> str:
    """A DATETIME literal/value in UTC at minute precision (kintone drops the seconds)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def minute_range_query(code: str, window: Window) -> str:
    """`code` within the minutes that hold [read_from, end) (DATETIME compares by minute)."""
    start = window.read_from.replace(second=0, microsecond=0)
    end = window.end.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return f'{code} >= "{kintone_time(start)}" and {code} < "{kintone_time(end)}"'


def day_list(window: Window, timezone: str) -> list[str]:
    """The local dates (YYYY-MM-DD) [read_from, end) touches."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    first = window.read_from.astimezone(zone).date()
    last = (window.end - dt.timedelta(seconds=1)).astimezone(zone).date()
    days = []
    while first <= last:
        days.append(first.isoformat())
        first += dt.timedelta(days=1)
    return days


# --- after the import ------------------------------------------------------------------------


def watermark_updates(
    streams: Sequence[Stream], result: ImportResult, timezone: str
) -> dict[str, dt.datetime]:
    """New watermarks of a 差分 run's streams that moved."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    updates = {}
    for stream, tally in zip(streams, result.streams, strict=True):
        previous = stream.previous.imported_until if stream.previous else None
        moved = tally.watermark(previous, zone)
        if moved is not None and (previous is None or moved > previous):
            updates[stream.key] = moved
    return updates


def save_watermarks(
    connector_id: str,
    role: str,
    updates: Mapping[str, dt.datetime],
    *,
    run_id: str,
    method: str | None = None,
) -> None:
    """Store the advanced watermarks (the process's database session)."""
    if not updates:
        return
    from portal.db import session_scope

    with session_scope() as session:
        marks.advance_watermarks(session, connector_id, role, updates, run_id=run_id, method=method)


def detail_of(streams: Sequence[Stream], result: ImportResult, timezone: str) -> str | None:
    """The メッセージ詳細 of a finished run."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    reports = [
        StreamReport(
            stream.label,
            imported=imported_range(stream.window.start, *tally.written_range(zone)),
            excluded=stream.window.excluded,
        )
        for stream, tally in zip(streams, result.streams, strict=True)
    ]
    return message_detail(reports, timezone)


def import_step(app_id: str) -> KintoneStep:
    """What an import does with its app: reads (duplicate check) and adds records."""
    return KintoneStep(app_id, needs=("view", "add"), writing="連携データ")


def kintone_failure(error: BaseException, *, app_id: str, step_title: str) -> str:
    """A Japanese message for a kintone failure of an import (what to fix)."""
    if isinstance(error, kintone_api.KintoneAuthError):
        return (
            "kintone APIトークンが正しくありません。"
            f"「{step_title}」のkintone APIトークンを確認してください。"
        )
    if isinstance(error, kintone_api.KintoneError | BudgetExceeded):
        return kintone_message(error, import_step(app_id))
    return str(error)


def write_failure(
    result: ImportResult, fields: Mapping[str, Mapping[str, Any]], *, app_id: str, step_title: str
) -> str:
    """The message of an import stopped by `result.error`, naming field and records."""
    error = result.error
    if isinstance(error, kintone_api.KintoneValidationError):
        code = error.field_code
        label = str((fields.get(code) or {}).get("label", code)) if code else ""
        detail = (
            " ".join(e for err in error.field_errors[:1] for e in err.messages) or error.message
        )
        where = f"フィールド「{label}」（フィールドコード: {code}）: " if code else ""
        head = f"kintoneへのデータ登録に失敗しました。{where}{detail}"
        head += "\n連携項目に設定したkintoneのフィールドの設定（文字数・選択肢・数値の形式など）を確認してください。"
    elif isinstance(error, HaihaiError):
        head = haihai_message(error)
    elif isinstance(error, kintone_api.KintoneError | BudgetExceeded):
        head = kintone_failure(error, app_id=app_id, step_title=step_title)
    else:
        head = "データの連携中にエラーが発生したため、処理を中止しました。"
    lines = [head]
    if result.failed_records and result.failed_count:
        named = "、".join(result.failed_records)
        lines.append(
            f"登録できなかったデータ: {named}（このデータを含む{result.failed_count}件は登録されていません）"
        )
    if result.written:
        lines.append(
            f"それまでの{result.written}件はkintoneに登録済みです。"
            "再度実行すると、登録済みのデータを除いて続きから連携します。"
        )
    return "\n".join(lines)


def is_reported_failure(error: BaseException | None) -> bool:
    """Whether a stopped import's error is one the run reports with its own message."""
    return isinstance(error, HaihaiError | kintone_api.KintoneError | BudgetExceeded)


def raise_for_read_failure(error: BaseException, *, app_id: str, step_title: str) -> None:
    """RunFailed for a failure before any write (the app's fields, the duplicate check)."""
    if isinstance(error, HaihaiError):
        raise RunFailed(haihai_message(error), code=haihai_error_code(error)) from error
    if isinstance(error, kintone_api.KintoneError | BudgetExceeded):
        raise RunFailed(
            kintone_failure(error, app_id=app_id, step_title=step_title),
            code=kintone_error_code(error, import_step(app_id)),
        ) from error
    raise error


def check_range(params: Mapping[str, Any]) -> None:
    """RunFailed with the 実行 page's message for an invalid 全件 range."""
    try:
        run_mode(params)
    except RangeInvalid as invalid:
        raise RunFailed(invalid.message, code="settings") from invalid
