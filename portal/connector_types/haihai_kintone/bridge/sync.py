"""Bridgeフォーム連携 (manual 付録5): Bridge form answers into the Bridge app as new records.

One stream per form with its own watermark (すべて: every form 配配メール lists when the run
starts; 個別に選択する: the chosen ones). 差分 and 全件 follow the same rules as the reaction
import; an answer is identified by its form and RH01AnswerId, so one already in the app is never
added again. 回答日時 is a DATETIME (kintone keeps minutes), 管理_TimeStamp keeps the seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.bridge.config import (
    BRIDGE,
    FORMS_SELECTED,
    BridgeSetting,
    bridge_setting,
)
from portal.connector_types.haihai_kintone.event_import import run as common
from portal.connector_types.haihai_kintone.event_import.engine import (
    Candidate,
    ImportResult,
    identity_key,
    import_candidates,
)
from portal.connector_types.haihai_kintone.event_import.fields import BRIDGE_FIELDS
from portal.connector_types.haihai_kintone.event_import.mapping import ItemMapping, kintone_value
from portal.connector_types.haihai_kintone.event_import.prefetch import Prefetched
from portal.connector_types.haihai_kintone.event_import.values import (
    KintoneMinutes,
    kintone_number,
    local_text,
    one_line,
)
from portal.connector_types.haihai_kintone.event_import.window import Window
from portal.integrations.haihai import FormAnswer, HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.syncs.context import RunContext, RunFailed, RunOutcome

log = logging.getLogger(__name__)

PROCESS_NAME = "Bridgeフォーム連携"
STEP_TITLE = "Step9. Bridgeフォーム連携"
FIXED_CODES = tuple(f.code for f in BRIDGE_FIELDS)
MSG_NO_APP = (
    "Bridgeフォーム連携の連携先kintoneアプリが設定されていません。"
    "連携設定画面の「Step9. Bridgeフォーム連携」でkintone アプリIDとAPIトークンを設定し、"
    "「kintone項目の同期」を行ってください。"
)
MSG_NO_FORMS = (
    "連携するフォームがありません。"
    "「Step9. Bridgeフォーム連携」のフォーム選択を確認し、「配配メール設定の同期」を行ってください。"
)


def answer_text(answer: FormAnswer) -> str:
    """回答: 配配メール's text of the answer, or `label: value` lines built from its items."""
    if answer.answer_text:
        return answer.answer_text
    lines = []
    for item in answer.answers:
        value = ", ".join(item.value) if isinstance(item.value, list) else item.value
        lines.append(f"{item.label}: {value}")
    return "\n".join(lines)


def answer_record(
    answer: FormAnswer,
    form_name: str,
    *,
    zone: ZoneInfo,
    written_at: str,
    minutes: KintoneMinutes,
    mappings: Sequence[ItemMapping] = (),
) -> dict[str, dict[str, Any]]:
    """The Bridge app's record of one answer (付録5.2) plus the mapped items (付録5.3)."""
    at = answer.answered_at
    if at.tzinfo is not zone:
        at = at.astimezone(zone)
    text = local_text(at)
    record = {
        "RH01FormId": {"value": kintone_number(answer.form_id)},
        "RH01FormName": {"value": one_line(answer.form_name or form_name)},
        "RH01AnswerId": {"value": kintone_number(answer.answer_id)},
        "RH01AnswerDateTime": {"value": minutes(int(at.timestamp()))},
        "RH01Answer": {"value": answer_text(answer)},
        "RH01HaihaiCustId": {"value": kintone_number(answer.customer_id)},
        "RH01RecordDate": {"value": text[:10]},
        "RH01RecordLastUpdateDate": {"value": written_at},
        "RH01RecordTimeStamp": {"value": text},
        "RH01MailAddress": {"value": (answer.email or "").strip()},
    }
    if mappings:
        by_id = {item.item_id: item.value for item in answer.answers if item.item_id}
        by_label = {item.label: item.value for item in answer.answers}
        for mapped in mappings:
            raw = by_id.get(mapped.haihai_item_id, by_label.get(mapped.haihai_item))
            record[mapped.kintone_code] = {"value": kintone_value(mapped.kintone_type, raw)}
    return record


def answer_identity(form_id: Any, answer_id: Any) -> bytes:
    """An answer's identity: its form and RH01AnswerId (as kintone stores the numbers)."""
    return identity_key((kintone_number(form_id), kintone_number(answer_id)))


def stream_choices(
    setting: BridgeSetting, params: Mapping[str, Any], live_forms: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(form ID, name) of the run's forms: the 実行 page's choice, else the saved フォーム選択."""
    live = dict(live_forms)
    mode = params.get("form_mode") or setting.form_mode
    if mode == FORMS_SELECTED:
        chosen = params.get("forms") if params.get("form_mode") else setting.form_ids
        if isinstance(chosen, str):
            chosen = chosen.split(",")
        return [(f, live[f]) for f in chosen or () if f in live]
    return list(live.items())


def _raw_answers(
    haihai: HaihaiClient, streams: Sequence[common.Stream]
) -> Iterator[tuple[int, FormAnswer]]:
    """(stream index, answer) of every stream's window, read in one pass (one form: filtered)."""
    active = [s for s in streams if not s.window.empty]
    if not active:
        return
    index = {s.key: i for i, s in enumerate(streams)}
    since = min(s.window.read_from for s in active)
    until = max(s.window.end for s in active)
    if len(active) == 1:
        answers = haihai.iter_form_answers(active[0].key, since, until)
    else:
        answers = haihai.iter_form_answers(None, since, until)  # type: ignore[arg-type]
    for answer in answers:
        position = index.get(answer.form_id)
        if position is not None:
            yield position, answer


def answer_candidates(
    answers: Iterable[tuple[int, FormAnswer]],
    streams: Sequence[common.Stream],
    setting: BridgeSetting,
    *,
    zone: ZoneInfo,
    written_at: str,
) -> Iterator[Candidate]:
    """The answers within their form's window as records to add."""
    minutes = KintoneMinutes()
    bounds = [(int(s.window.read_from.timestamp()), int(s.window.end.timestamp())) for s in streams]
    seen: set[tuple[str, str]] = set()
    for position, answer in answers:
        key = (answer.form_id, answer.answer_id)
        if key in seen:
            continue
        seen.add(key)
        stamp = int(answer.answered_at.timestamp())
        low, high = bounds[position]
        if not low <= stamp < high:
            continue
        stream = streams[position]
        record = answer_record(
            answer,
            stream.label,
            zone=zone,
            written_at=written_at,
            minutes=minutes,
            mappings=setting.mappings,
        )
        yield Candidate(
            position,
            stamp,
            answer_identity(answer.form_id, answer.answer_id),
            record,
            f"{stream.label} {record['RH01RecordTimeStamp']['value']} "
            f"{record['RH01MailAddress']['value']}（回答ID: {answer.answer_id}）",
        )


def import_answers(
    context: RunContext,
    setting: BridgeSetting,
    streams: Sequence[common.Stream],
    *,
    kintone: KintoneClient,
    haihai: HaihaiClient,
) -> tuple[ImportResult, dict[str, Any]]:
    """Check the app, find the answers it holds, then write the new ones."""
    app = int(setting.app.app_id)
    zone = ZoneInfo(context.timezone)
    active = [s for s in streams if not s.window.empty]
    answers: Prefetched | None = None
    try:
        try:
            properties = kintone.get_form_fields(app)
            common.check_before_writing(
                properties,
                BRIDGE_FIELDS,
                setting.mappings,
                app_id=setting.app.app_id,
                step_title=STEP_TITLE,
                process_name=PROCESS_NAME,
            )
            # 配配メール is read from here on, beside the duplicate check and the writes.
            answers = Prefetched(_raw_answers(haihai, streams))
            queries = []
            if active:
                window = Window(
                    start=min(s.window.start for s in active),
                    end=max(s.window.end for s in active),
                    read_from=min(s.window.read_from for s in active),
                )
                queries.append(common.minute_range_query("RH01AnswerDateTime", window))
            existing = common.count_existing(
                kintone,
                app,
                queries,
                ("RH01FormId", "RH01AnswerId"),
                lambda r: answer_identity(r["RH01FormId"]["value"], r["RH01AnswerId"]["value"]),
            )
        except RunFailed:
            raise
        except Exception as error:  # noqa: BLE001 - nothing written yet: the run's message
            common.raise_for_read_failure(error, app_id=setting.app.app_id, step_title=STEP_TITLE)
        result = import_candidates(
            lambda chunk: kintone.add_records(app, chunk, max_in_flight=1),
            len(streams),
            answer_candidates(
                answers,
                streams,
                setting,
                zone=zone,
                written_at=local_text(context.started_at.astimezone(zone)),
            ),
            existing,
            progress=context.progress,
        )
    finally:
        if answers is not None:
            answers.close()
    return result, properties


def _live_forms(haihai: HaihaiClient, setting: BridgeSetting) -> list[tuple[str, str]]:
    """The forms 配配メール lists now (new forms included), names as it shows them."""
    try:
        return [(form.form_id, form.name) for form in haihai.list_forms()]
    except Exception as error:  # noqa: BLE001 - plan, auth, network: the run's message
        common.raise_for_read_failure(error, app_id=setting.app.app_id, step_title=STEP_TITLE)
        raise


def run_bridge(context: RunContext) -> RunOutcome:
    """Run handler of Bridgeフォーム連携 (差分 or 全件, see the module docstring)."""
    config = context.config
    setting = bridge_setting(config)
    if setting.unavailable:
        raise RunFailed(setting.unavailable, code="settings")
    if setting.app is None:
        raise RunFailed(MSG_NO_APP, code="settings")
    common.check_range(context.params)
    mode, full_range = common.run_mode(context.params)
    kintone, haihai = common.clients(
        setting.app,
        config.haihai,
        allow_local=context.allow_local_urls,
        redis_conn=context.redis,
    )
    try:
        choices = stream_choices(setting, context.params, _live_forms(haihai, setting))
        if not choices:
            raise RunFailed(MSG_NO_FORMS, code="settings")
        streams = common.plan_streams(
            choices,
            mode=mode,
            full_range=full_range,
            now=context.started_at,
            timezone=context.timezone,
            watermarks=setting.watermarks,
            overlap_window=common.overlap(context.app_config),
        )
        result, properties = import_answers(
            context, setting, streams, kintone=kintone, haihai=haihai
        )
    finally:
        kintone.close()
        haihai.close()
    if mode == common.MODE_DIFF:
        common.save_watermarks(
            context.connector_id,
            BRIDGE,
            common.watermark_updates(streams, result, context.timezone),
            run_id=context.run_id,
        )
    log.info(
        "bridge import done run_id=%s task_id=%s mode=%s forms=%s written=%s planned=%s ok=%s",
        context.run_id,
        context.run_id,
        mode,
        len(streams),
        result.written,
        result.planned,
        result.ok,
    )
    if not result.ok:
        if not common.is_reported_failure(result.error):
            raise result.error
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
