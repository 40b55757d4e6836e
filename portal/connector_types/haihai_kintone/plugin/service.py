"""What the kintone plugin's endpoint does: check a run request, start it once, report on runs.

A plugin run is 顧客情報連携 (kintoneからの実行) (`customer_plugin`): the chosen
顧客情報連携設定's target, mode and options, applied to the list view's filter instead of the
saved conditions. It is created through `portal.runs.service.create_run` (committed, then
enqueued) with trigger "plugin", so exclusion groups, daily limits and error messages are the
same as for a run from the 実行 page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import LockError
from sqlmodel import Session, col, select

from portal.connector_types.haihai_kintone.customer.config import (
    CUSTOMER_PLUGIN,
    CustomerSyncSetting,
    customer_settings,
)
from portal.connector_types.haihai_kintone.customer.setting_form import MODE_LABELS, TARGET_LABELS
from portal.connector_types.registry import process_name
from portal.inbound import InboundError
from portal.inbound.cors import origin_of
from portal.integrations.kintone import kintone_base_url
from portal.models import Connector, Run
from portal.models.runs import PLUGIN, UNFINISHED
from portal.models.settings import ConnectorSettings
from portal.runs import service as runs_service
from portal.syncs.kintone_query import ConditionRejected, check_condition

DEFAULT_TEMPLATE = "https://{subdomain}.cybozu.com"
START_LOCK_SECONDS = 30
START_LOCK_WAIT_SECONDS = 10
_SUBDOMAIN_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MARK = "subdomainmark"
_APP_ID = re.compile(r"^[1-9][0-9]{0,17}$")

MSG_BODY = "リクエストの内容が正しくありません（JSONのオブジェクトで送信してください）。"
MSG_APP = "kintoneアプリIDが正しくありません。"
MSG_SETTING = "実行する顧客情報連携設定の番号（1〜10）を指定してください。"
MSG_NOT_CONFIGURED = (
    "この連携設定ではkintoneアプリが設定されていません。"
    "配配メールコネクタの連携設定画面（Step3）でkintoneアプリを設定してください。"
)
MSG_APP_MISMATCH = (
    "このkintoneアプリ（アプリID: {app}）は、プラグイン用トークンの連携設定の連携先アプリではありません。"
    "連携設定画面（Step3）のkintoneアプリでプラグインを設定してください。"
)
MSG_SETTING_MISSING = (
    "顧客情報連携設定 {number}は登録されていません。"
    "配配メールコネクタの連携設定画面（Step5）とプラグインの設定を確認してください。"
)
MSG_SETTING_OFF = (
    "顧客情報連携設定 {number}は「連携しない」に設定されているため実行できません。"
    "連携設定画面（Step5）で連携タイミングを「手動実行」または「スケジュール実行」にしてください。"
)
MSG_START_BUSY = "連携の開始を受付中です。しばらく待ってから再度お試しください。"
MSG_RUN_MISSING = "指定されたタスクIDの実行は見つかりません。"


@dataclass(frozen=True)
class RunRequest:
    """A checked request of the plugin button: app, setting number and the view's condition."""

    app_id: str
    setting: int
    condition: str


def parse_run_request(payload: Any) -> RunRequest:
    """The request body as a RunRequest; InboundError(400) naming what is wrong."""
    if not isinstance(payload, Mapping):
        raise InboundError(400, "bad_request", MSG_BODY)
    app_id = _app_id(payload.get("app"))
    setting = payload.get("setting")
    if isinstance(setting, str) and setting.strip().isdigit():
        setting = int(setting.strip())
    if isinstance(setting, bool) or not isinstance(setting, int) or not 1 <= setting <= 10:
        raise InboundError(400, "invalid_setting", MSG_SETTING)
    try:
        condition = check_condition(payload.get("condition")).text
    except ConditionRejected as rejected:
        raise InboundError(400, "invalid_condition", rejected.message) from None
    return RunRequest(app_id=app_id, setting=setting, condition=condition)


def _app_id(value: Any) -> str:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not _APP_ID.match(text):
        raise InboundError(400, "invalid_app", MSG_APP)
    return text


# --- origins ---------------------------------------------------------------------------------


def kintone_origin(settings: ConnectorSettings | None, template: str) -> str | None:
    """The origin of the connector's kintone (Step3 subdomain), or None when not set."""
    if settings is None or not settings.kintone_subdomain:
        return None
    try:
        return origin_of(kintone_base_url(template, settings.kintone_subdomain))
    except ValueError:
        return None


def origin_pattern(template: str) -> re.Pattern[str]:
    """Every origin a kintone of this deployment's URL template can have."""
    origin = origin_of(template.replace("{subdomain}", _MARK)) or ""
    return re.compile(
        "^" + re.escape(origin).replace(_MARK, _SUBDOMAIN_PATTERN) + "$", re.IGNORECASE
    )


# --- checks against the connector ------------------------------------------------------------


def check_app(settings: ConnectorSettings | None, app_id: str) -> None:
    """Refuse an app other than the connector's Step3 app (nothing about others is revealed)."""
    configured = (settings.kintone_app_id or "").strip() if settings else ""
    if not configured:
        raise InboundError(409, "not_configured", MSG_NOT_CONFIGURED)
    if configured != app_id:
        raise InboundError(403, "app_mismatch", MSG_APP_MISMATCH.format(app=app_id))


def runnable_setting(config: Any, number: int) -> CustomerSyncSetting:
    """The 顧客情報連携設定 `number` when it exists and is not 「連携しない」."""
    setting = next((s for s in customer_settings(config) if s.number == number), None)
    if setting is None:
        raise InboundError(404, "setting_not_found", MSG_SETTING_MISSING.format(number=number))
    if setting.timing == "off":
        raise InboundError(409, "setting_disabled", MSG_SETTING_OFF.format(number=number))
    return setting


def setting_summary(setting: CustomerSyncSetting) -> dict[str, Any]:
    """How the plugin lists one 顧客情報連携設定."""
    target = TARGET_LABELS.get(setting.target_type, setting.target_type)
    if setting.target_id:
        target = f"{target}（ID: {setting.target_id}）"
    mode = MODE_LABELS.get(setting.mode, setting.mode)
    return {
        "number": setting.number,
        "name": f"顧客情報連携 {setting.number}",
        "description": f"{target}・{mode}",
        "runnable": setting.timing != "off",
    }


# --- starting once ---------------------------------------------------------------------------


def unfinished_plugin_run(session: Session, connector_id: str) -> Run | None:
    """The newest 待機中/処理中 plugin run of the connector, if any."""
    return session.exec(
        select(Run)
        .where(
            Run.connector_id == connector_id,
            Run.process_key == CUSTOMER_PLUGIN,
            col(Run.status).in_(UNFINISHED),
        )
        .order_by(col(Run.created_at).desc())
    ).first()


def start_plugin_run(
    session: Session, redis_conn, connector: Connector, request: RunRequest
) -> tuple[Run, bool]:
    """Start the plugin run of `request`, or answer the one already under way.

    Returns (run, started). Two presses — even from two web processes at the same instant —
    start one run: the check and the insert happen under a Redis lock per connector.
    """
    lock = redis_conn.lock(
        f"portal:kintone-plugin:start:{connector.id}",
        timeout=START_LOCK_SECONDS,
        blocking_timeout=START_LOCK_WAIT_SECONDS,
    )
    if not lock.acquire():
        raise InboundError(409, "start_in_progress", MSG_START_BUSY)
    try:
        session.expire_all()
        running = unfinished_plugin_run(session, connector.id)
        if running is not None:
            return running, False
        run = runs_service.create_run(
            session,
            connector.id,
            CUSTOMER_PLUGIN,
            trigger=PLUGIN,
            params={"setting": request.setting, "query": request.condition},
        )
        return run, True
    finally:
        # A lock that expired during a very slow insert has nothing left to free.
        with contextlib.suppress(LockError):
            lock.release()


def find_plugin_run(session: Session, connector_id: str, run_id: str) -> Run:
    """The connector's plugin run `run_id`; InboundError(404) for any other id."""
    run = session.get(Run, run_id) if run_id and len(run_id) <= 26 else None
    if run is None or run.connector_id != connector_id or run.process_key != CUSTOMER_PLUGIN:
        raise InboundError(404, "run_not_found", MSG_RUN_MISSING)
    return run


def _local_text(moment: dt.datetime | None, timezone: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y年%m月%d日 %H:%M:%S")


def run_json(run: Run, connector: Connector, timezone: str) -> dict[str, Any]:
    """A run as the plugin shows it: status, counts, タスクID, the 連携ログ name and details."""
    setting = (run.params or {}).get("setting")
    return {
        "task_id": run.id,
        "status": run.status,
        "status_label": run.status_label,
        "finished": run.finished,
        "processed": run.processed,
        "total": run.total,
        "progress": round(run.progress or 0.0, 4),
        "setting": setting,
        "log_name": f"{connector.name} / {process_name(run.process_key)}",
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at_text": _local_text(run.started_at, timezone),
        "finished_at_text": _local_text(run.finished_at, timezone),
        "error_detail": run.error_detail,
        "message_detail": run.message_detail,
    }


def connector_timezone(session: Session, connector: Connector, default: str) -> str:
    """The time zone of the connector's account."""
    return runs_service.connector_timezone(session, connector.id, default)
