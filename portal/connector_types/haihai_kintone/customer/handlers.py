"""Run handlers of 顧客情報連携 1–10 and 顧客情報連携 (kintoneからの実行).

`jobs.runs.run_sync` calls these through the process registry. They build the kintone and
配配メール clients from the connector settings and delegate to `run_customer_sync`; every
CustomerSyncError becomes a RunFailed with its Japanese message.

A plugin run (`customer_plugin`) carries in `Run.params`: `setting` — the number (1–10) of
the 顧客情報連携設定 whose target, mode and options apply — and `query` — the kintone list view's
filter (`kintone.app.getQueryCondition()`), used instead of the saved conditions.
"""

from __future__ import annotations

import logging

from portal.connector_types.haihai_kintone.customer.config import (
    CustomerSyncSetting,
    customer_settings,
)
from portal.connector_types.haihai_kintone.customer.sync import CustomerSyncError, run_customer_sync
from portal.integrations.haihai import HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.syncs.clients import make_sync_clients
from portal.syncs.config import ConnectorConfig
from portal.syncs.context import RunContext, RunFailed, RunOutcome
from portal.syncs.kintone_query import ConditionRejected, check_condition

log = logging.getLogger(__name__)


def find_setting(config: ConnectorConfig, number: int | None) -> CustomerSyncSetting:
    """The 顧客情報連携設定 `number`; RunFailed when it does not exist or is 連携しない."""
    setting = next((s for s in customer_settings(config) if s.number == number), None)
    if setting is None:
        raise RunFailed(
            f"顧客情報連携設定 {number or ''}が見つかりません。連携設定画面で設定を確認してください。",
            code="settings",
        )
    if setting.timing == "off":
        raise RunFailed(
            f"顧客情報連携設定 {number}は「連携しない」に設定されています。"
            "連携設定画面で連携タイミングを「手動実行」または「スケジュール実行」にして保存してください。",
            code="settings",
        )
    return setting


def make_clients(
    config: ConnectorConfig, *, allow_local: bool, redis_conn=None
) -> tuple[KintoneClient, HaihaiClient]:
    """The kintone and 配配メール clients of `config` (daily budgets shared through Redis)."""
    # kintone's daily count only triggers a warning mail, so it is recorded, never refused.
    return make_sync_clients(
        config, allow_local=allow_local, redis_conn=redis_conn, kintone_daily_limit=None
    )


def execute(
    context: RunContext,
    setting: CustomerSyncSetting,
    *,
    query_override: str | None = None,
    allow_local: bool = False,
    redis_conn=None,
) -> RunOutcome:
    """Run `setting` for `context` and translate the outcome for the run machinery."""
    config = context.config
    kintone, haihai = make_clients(config, allow_local=allow_local, redis_conn=redis_conn)
    try:
        outcome = run_customer_sync(
            config,
            setting,
            kintone_client=kintone,
            haihai_client=haihai,
            progress=context.progress,
            query_override=query_override,
            journal=context.part_journal,
        )
    except CustomerSyncError as error:
        raise RunFailed(
            error.message, code=error.code, processed=error.processed, total=error.total
        ) from error
    finally:
        kintone.close()
        haihai.close()
    # The worker's run.succeeded line is the INFO record of the run; this detail is DEBUG.
    log.debug(
        "customer sync run done run_id=%s task_id=%s setting=%s total=%s processed=%s parts=%s",
        context.run_id,
        context.run_id,
        setting.number,
        outcome.total,
        outcome.processed,
        outcome.parts,
    )
    return RunOutcome(
        processed=outcome.processed, total=outcome.total, message_detail=outcome.message_detail
    )


def run_numbered(context: RunContext) -> RunOutcome:
    """Handler of 顧客情報連携 1–10 (manual and timed runs)."""
    setting = find_setting(context.config, context.process_number)
    return execute(context, setting, allow_local=context.allow_local_urls, redis_conn=context.redis)


def run_from_plugin(context: RunContext) -> RunOutcome:
    """Handler of 顧客情報連携 (kintoneからの実行): the list view's filter, a chosen setting."""
    try:
        number = int(context.params.get("setting"))
    except (TypeError, ValueError):
        raise RunFailed(
            "kintoneプラグインの設定で実行する顧客情報連携設定が指定されていません。"
            "プラグインの設定を確認してください。",
            code="settings",
        ) from None
    setting = next((s for s in customer_settings(context.config) if s.number == number), None)
    if setting is None:
        raise RunFailed(
            f"kintoneプラグインの設定で指定された顧客情報連携設定 {number}が見つかりません。"
            "連携設定画面とプラグインの設定を確認してください。",
            code="settings",
        )
    # Checked when the plugin's request arrived; checked again so that no other way of creating
    # a run (the CLI, a stored row) can smuggle order by / limit into the read.
    try:
        query = check_condition(context.params.get("query")).text
    except ConditionRejected as rejected:
        raise RunFailed(rejected.message, code="settings") from None
    return execute(
        context,
        setting,
        query_override=query,
        allow_local=context.allow_local_urls,
        redis_conn=context.redis,
    )
