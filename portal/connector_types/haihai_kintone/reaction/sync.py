"""顧客反応履歴情報取込連携 (manual 付録4): 配配メール events into the reaction app as new records.

Per 連携種別 one stream with its own watermark. 差分 reads each type from just after its
watermark (re-reading an overlap window for late events, never before 00:00 seven days back);
全件 reads the range entered on the 実行 page. Events the app already holds are skipped (the
tuple of fixed fields identifies an event), the rest is written 2,000 records per bulkRequest.
A 差分 run moves each watermark only over events that are in kintone afterwards.

Counts (処理件数): total = events that had to be written; processed = events written. A repeated
run finds everything imported: 成功 0 / 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.event_import import run as common
from portal.connector_types.haihai_kintone.event_import.engine import (
    Candidate,
    ImportResult,
    import_candidates,
)
from portal.connector_types.haihai_kintone.event_import.prefetch import Prefetched
from portal.connector_types.haihai_kintone.reaction import records
from portal.connector_types.haihai_kintone.reaction.config import (
    EVENT_TYPE_LABELS,
    METHOD_LEGACY,
    REACTION,
    ReactionSetting,
    method_fields,
    method_types,
    reaction_setting,
)
from portal.integrations.haihai import Event, HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.syncs.context import RunContext, RunFailed, RunOutcome
from portal.syncs.email_match import email_key

log = logging.getLogger(__name__)

PROCESS_NAME = "顧客反応履歴情報取込連携"
STEP_TITLE = "Step8. 顧客反応履歴情報取込連携"
MSG_NO_APP = (
    "顧客反応履歴情報取込連携の連携先kintoneアプリが設定されていません。"
    "連携設定画面の「Step8. 顧客反応履歴情報取込連携」でkintone アプリIDとAPIトークンを設定し、"
    "「kintone項目の同期」を行ってください。"
)
MSG_NO_TYPES = (
    "連携種別が選択されていません。"
    "「Step8. 顧客反応履歴情報取込連携」で連携種別を選択して保存するか、実行画面で連携対象を指定してください。"
)


def chosen_types(setting: ReactionSetting, params: Mapping[str, Any]) -> list[str]:
    """The 連携対象 of a run: those chosen on the 実行 page among the configured ones."""
    configured = [t for t in setting.types if t in method_types(setting.method)]
    picked = params.get("types")
    if picked is None:
        return configured
    if isinstance(picked, str):
        picked = picked.split(",")
    return [t for t in configured if t in set(picked)]


def existing_queries(streams: Sequence[common.Stream], method: str, timezone: str) -> list[str]:
    """kintone queries covering the records each stream's window may find again."""
    queries = []
    for stream in streams:
        if stream.window.empty:
            continue
        action = f'RH01ActionType = "{records.action_label(stream.key)}"'
        by_day = method == METHOD_LEGACY or (
            stream.previous is not None and stream.previous.method == METHOD_LEGACY
        )
        if by_day:
            # Records of the legacy method have no DATETIME copy: look them up by 管理_日付.
            days = ", ".join(f'"{day}"' for day in common.day_list(stream.window, timezone))
            queries.append(f"{action} and RH01RecordDate in ({days})")
        else:
            queries.append(
                f"{action} and {common.minute_range_query('RH01RecordDatetime2', stream.window)}"
            )
    return queries


def _raw_events(
    haihai: HaihaiClient, streams: Sequence[common.Stream]
) -> Iterator[tuple[int, Event]]:
    """(stream index, event) of every stream's window, oldest first per stream."""
    for index, stream in enumerate(streams):
        window = stream.window
        if not window.empty:
            for event in haihai.iter_events(stream.key, window.read_from, window.end):
                yield index, event


def event_candidates(
    events: Iterable[tuple[int, Event]],
    streams: Sequence[common.Stream],
    setting: ReactionSetting,
    *,
    zone: ZoneInfo,
    written_at: str,
    customers: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[Candidate]:
    """The events as records to add (events outside their window and repeats are dropped)."""
    fixed_codes = [f.code for f in method_fields(setting.method)]
    identity_codes = records.identity_fields(setting.method)
    convert = records.EventValues(zone, written_at)
    bounds = [(int(s.window.read_from.timestamp()), int(s.window.end.timestamp())) for s in streams]
    seen: set[tuple[int, str]] = set()
    for index, event in events:
        key = (index, event.event_id)
        if key in seen:
            continue  # a page boundary that moved while reading
        seen.add(key)
        stamp = int(event.occurred_at.timestamp())
        low, high = bounds[index]
        if not low <= stamp < high:
            continue
        values = convert(event, stamp)
        customer = None
        if customers is not None:
            customer = customers.get(email_key(event.email) or "", {})
        yield Candidate(
            index,
            stamp,
            records.identity_of(values, identity_codes),
            records.record_of(values, fixed_codes, setting.mappings, customer),
            records.describe(values, streams[index].label),
        )


def customer_values(haihai: HaihaiClient) -> dict[str, Mapping[str, Any]]:
    """The customers' database values by mail address (for mapped items)."""
    found: dict[str, Mapping[str, Any]] = {}
    for customer in haihai.iter_customers():
        key = email_key(customer.email)
        if key is not None:
            found[key] = customer.values
    return found


def import_reactions(
    context: RunContext,
    setting: ReactionSetting,
    streams: Sequence[common.Stream],
    *,
    kintone: KintoneClient,
    haihai: HaihaiClient,
) -> tuple[ImportResult, dict[str, Any]]:
    """Check the app, count what it holds, then write the events; → (result, app fields)."""
    app = int(setting.app.app_id)
    zone = ZoneInfo(context.timezone)
    identity_codes = records.identity_fields(setting.method)
    events: Prefetched | None = None
    try:
        try:
            properties = kintone.get_form_fields(app)
            common.check_before_writing(
                properties,
                method_fields(setting.method),
                setting.mappings,
                app_id=setting.app.app_id,
                step_title=STEP_TITLE,
                process_name=PROCESS_NAME,
            )
            customers = customer_values(haihai) if setting.mappings else None
            # 配配メール pages are read from here on, beside the duplicate check and the writes.
            events = Prefetched(_raw_events(haihai, streams))
            existing = common.count_existing(
                kintone,
                app,
                existing_queries(streams, setting.method, context.timezone),
                identity_codes,
                lambda record: records.identity_from_record(record, identity_codes),
            )
        except RunFailed:
            raise
        except Exception as error:  # noqa: BLE001 - nothing written yet: the run's message
            common.raise_for_read_failure(error, app_id=setting.app.app_id, step_title=STEP_TITLE)
        candidates = event_candidates(
            events,
            streams,
            setting,
            zone=zone,
            written_at=records.written_stamp(context.started_at, zone),
            customers=customers,
        )
        result = import_candidates(
            lambda chunk: kintone.add_records(app, chunk, max_in_flight=1),
            len(streams),
            candidates,
            existing,
            progress=context.progress,
        )
    finally:
        if events is not None:
            events.close()
    return result, properties


def run_reaction(context: RunContext) -> RunOutcome:
    """Run handler of 顧客反応履歴情報取込連携 (差分 or 全件, see the module docstring)."""
    config = context.config
    setting = reaction_setting(config)
    if setting.app is None:
        raise RunFailed(MSG_NO_APP, code="settings")
    common.check_range(context.params)
    mode, full_range = common.run_mode(context.params)
    types = chosen_types(setting, context.params)
    if not types:
        raise RunFailed(MSG_NO_TYPES, code="settings")
    streams = common.plan_streams(
        [(t, EVENT_TYPE_LABELS[t]) for t in types],
        mode=mode,
        full_range=full_range,
        now=context.started_at,
        timezone=context.timezone,
        watermarks=setting.watermarks,
        overlap_window=common.overlap(context.app_config),
    )
    kintone, haihai = common.clients(
        setting.app,
        config.haihai,
        allow_local=context.allow_local_urls,
        redis_conn=context.redis,
    )
    try:
        result, properties = import_reactions(
            context, setting, streams, kintone=kintone, haihai=haihai
        )
    finally:
        kintone.close()
        haihai.close()
    if mode == common.MODE_DIFF:
        common.save_watermarks(
            context.connector_id,
            REACTION,
            common.watermark_updates(streams, result, context.timezone),
            run_id=context.run_id,
            method=setting.method,
        )
    log.info(
        "reaction import done run_id=%s task_id=%s mode=%s written=%s planned=%s calls=%s ok=%s",
        context.run_id,
        context.run_id,
        mode,
        result.written,
        result.planned,
        result.calls,
        result.ok,
    )
    if not result.ok:
        if not common.is_reported_failure(result.error):
            raise result.error  # a defect or a timeout: the run machinery records it
        raise RunFailed(
            common.write_failure(
                result, properties, app_id=setting.app.app_id, step_title=STEP_TITLE
            ),
            code="import",
            processed=result.written,
            total=result.planned,
        ) from result.error
    return RunOutcome(
        processed=result.written,
        total=result.planned,
        message_detail=common.detail_of(streams, result, context.timezone),
    )
