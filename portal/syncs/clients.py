"""The kintone and 配配メール clients a sync run builds from the connector settings."""

from __future__ import annotations

from portal.integrations.haihai import HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.integrations.ledger import DailyLedger
from portal.syncs.config import ConnectorConfig
from portal.syncs.context import RunFailed

# Shared by every sync handler so every process of an account draws from one budget.
BUDGET_PREFIX = "portal:budget"
HAIHAI_DAILY_CALLS = 240  # per API and account (配配メール's own limit)

MSG_NO_KINTONE = (
    "kintone連携設定が完了していません。"
    "連携設定画面の「Step3. kintone連携設定」でサブドメイン名・アプリID・APIトークンを設定してください。"
)
MSG_NO_HAIHAI = (
    "配配メール連携設定が完了していません。"
    "連携設定画面の「Step2. 配配メール連携設定」で配配メールURL・ログインID・APIトークンを設定してください。"
)
MSG_BAD_ACCESS = (
    "接続先の設定が正しくありません。"
    "「Step2. 配配メール連携設定」と「Step3. kintone連携設定」を確認してください。"
)


def make_sync_clients(
    config: ConnectorConfig,
    *,
    allow_local: bool,
    redis_conn=None,
    kintone_daily_limit: int | None = None,
) -> tuple[KintoneClient, HaihaiClient]:
    """The clients of `config` (daily budgets shared through Redis when given); RunFailed when
    the kintone or 配配メール access is missing or malformed."""
    if config.kintone is None:
        raise RunFailed(MSG_NO_KINTONE, code="settings")
    if config.haihai is None:
        raise RunFailed(MSG_NO_HAIHAI, code="settings")
    kintone_ledger = haihai_ledger = None
    if redis_conn is not None:
        kintone_ledger = DailyLedger(redis_conn, BUDGET_PREFIX, limit=kintone_daily_limit)
        haihai_ledger = DailyLedger(redis_conn, BUDGET_PREFIX, limit=HAIHAI_DAILY_CALLS)
    try:
        kintone = KintoneClient(
            config.kintone.base_url, api_tokens=[config.kintone.api_token], ledger=kintone_ledger
        )
    except ValueError as error:
        raise RunFailed(MSG_BAD_ACCESS, code="settings") from error
    try:
        haihai = HaihaiClient(
            config.haihai.base_url,
            config.haihai.login_id,
            config.haihai.api_token,
            allow_local=allow_local,
            ledger=haihai_ledger,
        )
    except BaseException as error:
        kintone.close()
        if isinstance(error, ValueError):
            raise RunFailed(MSG_BAD_ACCESS, code="settings") from error
        raise
    return kintone, haihai
