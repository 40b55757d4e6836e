"""The Japanese wording of every kintone failure, for the settings page and the run log alike.

`kintone_message(error, step)` turns a typed error of `portal.integrations.kintone` (or the
portal's own daily-budget refusal) plus what the portal was doing (`KintoneStep`: which app,
which permissions the step needs, whether the request carried the user's 連携条件, what was
being written) into the sentence the user reads. Only the parts that depend on the step change
between the settings page and a run; the same failure reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.integrations.kintone import (
    KintoneAppAccessError,
    KintoneAuthError,
    KintoneConnectionLostError,
    KintoneError,
    KintoneFilterAbortedError,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneTimeoutError,
    KintoneValidationError,
)
from portal.integrations.ledger import BudgetExceeded

PERMISSION_LABELS = {
    "view": "レコード閲覧",
    "add": "レコード追加",
    "edit": "レコード編集",
    "delete": "レコード削除",
    "manage": "アプリ管理",
}

# Quoted from the manual (1.3 連携条件に関する注意事項); the parenthesis is the portal's own.
TOO_MUCH_DATA = (
    "kintone から取得するデータの量が多すぎるため、処理が中断されました。"
    "連携条件を見直してください。"
    "（「次のキーワードを含む」「次のキーワードを含まない」の条件に該当するレコードが"
    "10万件以上あると、kintoneが絞り込みを途中で打ち切ります。）"
)
AUTH = (
    "kintone APIトークンが正しくありません。"
    "「Step3. kintone連携設定」のkintone APIトークンを確認してください。"
    "kintoneでAPIトークンを再生成・削除した場合や、APIトークンの追加後にアプリを更新していない場合にも"
    "発生します。"
)
NO_PERMISSION = (
    "kintone APIトークンに、kintoneアプリ（アプリID: {app_id}）の必要なアクセス権がありません。"
    "APIトークンがこのアプリで発行されたものか確認し、kintoneアプリの設定 > APIトークンで"
    "{needs}のアクセス権を付与して、アプリを更新してください。"
)
APP_NOT_FOUND = (
    "kintoneアプリ（アプリID: {app_id}）が見つかりません。アプリが削除されていないか、"
    "「Step3. kintone連携設定」のkintone アプリIDが正しいか確認してください。"
)
APP_ACCESS = (
    "このkintone APIトークンでは、kintoneアプリ（アプリID: {app_id}）にアクセスできません。"
    "アプリIDのアプリが存在しないか、APIトークンがこのアプリで発行されたものではありません。"
    "kintone アプリIDと、そのアプリの設定 > APIトークンで生成したkintone APIトークンを"
    "確認してください。"
)
RECORD_NOT_FOUND = (
    "kintoneのレコードが見つかりません（{code}: {message}）。"
    "処理中にレコードが削除された可能性があります。時間を置いて再度実行してください。"
)
FIELD_MISSING = (
    "連携条件または連携項目に指定したkintoneのフィールドが存在しません（{message}）。"
    "「kintone項目の同期」を行い、設定を確認してください。"
)
QUERY_REFUSED = (
    "kintoneが連携条件による絞り込みを受け付けませんでした（{code}: {message}）。"
    "連携条件を確認してください。"
)
WRITE_REFUSED = (
    "kintoneのフィールド{field}に{what}を書き込めませんでした{record}: {message} "
    "連携先のkintone項目の設定（文字数制限・リンクの種類など）を確認してください。"
)
BUSY = (
    "kintoneへのアクセスが集中しているため、処理を中止しました。時間を置いて再度実行してください。"
)
READ_TIMEOUT = (
    "kintoneが{timeout:g}秒以内に応答しなかったため、処理を中止しました（{attempts}回試行）。"
    "kintoneが混雑しているか、一時的に停止している可能性があります。"
    "時間を置いて再度実行してください。"
)
CONNECT_TIMEOUT = (
    "kintoneに{timeout:g}秒以内に接続できませんでした。"
    "「Step3. kintone連携設定」のkintoneサブドメイン名が正しいか確認し、"
    "時間を置いて再度実行してください。"
)
UNREACHABLE = (
    "kintoneに接続できませんでした。"
    "「Step3. kintone連携設定」のkintoneサブドメイン名が正しいか確認し、"
    "時間を置いて再度実行してください。"
)
CONNECTION_LOST = "kintoneとの通信が途中で切断されました。時間を置いて再度実行してください。"
SERVER_ERROR = (
    "kintoneでサーバーエラーが発生しました（HTTP {status}）。時間を置いて再度実行してください。"
)
NOT_KINTONE = (
    "kintoneから想定外の応答がありました（HTTP {status}）。"
    "「Step3. kintone連携設定」のkintoneサブドメイン名が正しいか確認してください。"
)
DAILY_LIMIT = (
    "kintoneアプリ（アプリID: {app_id}）の1日あたりのAPIリクエスト数の上限に達したため、"
    "処理を中止しました。翌日以降に再度実行してください。"
)
PERMISSIONS_MISSING = (
    "kintone APIトークンに次のアクセス権がありません: {missing}。"
    "kintoneアプリの設定でAPIトークンの{needs}にチェックを入れ、アプリを更新してください。"
)
PERMISSIONS_OK = "接続を確認しました。APIトークンに{needs}のアクセス権があります。"
OTHER = (
    "kintoneでエラーが発生しました（{code}: {message}）。"
    "時間を置いて再度実行しても解消しない場合は、サポートにご連絡ください。"
)


@dataclass(frozen=True)
class KintoneStep:
    """What the portal was doing when kintone failed: the context a message needs.

    `needs`: the permissions (keys of PERMISSION_LABELS) this step requires; `conditions`: the
    request carried the user's 連携条件; `writing`: what was being written into a field.
    """

    app_id: str | int | None
    needs: tuple[str, ...] = ("view",)
    conditions: bool = False
    writing: str | None = None


def settings_step(app_id: str | int | None) -> KintoneStep:
    """「kintone項目の同期」 and 「接続テスト」: the customer app must allow 閲覧 and 編集."""
    return KintoneStep(app_id, needs=("view", "edit"))


def conditions_step(app_id: str | int | None) -> KintoneStep:
    """「条件を確認」: counting the records the 連携条件 match."""
    return KintoneStep(app_id, needs=("view",), conditions=True)


def customer_sync_step(app_id: str | int | None) -> KintoneStep:
    """顧客情報連携: reading the records the 連携条件 match."""
    return KintoneStep(app_id, needs=("view",), conditions=True)


def view_url_step(app_id: str | int | None) -> KintoneStep:
    """顧客閲覧URL連携: reading every record and writing the URL field."""
    return KintoneStep(app_id, needs=("view", "edit"), writing="顧客閲覧URL")


def kintone_message(error: KintoneError | BudgetExceeded, step: KintoneStep) -> str:
    """The Japanese sentence that tells the user what went wrong and what to do."""
    if isinstance(error, BudgetExceeded):
        return DAILY_LIMIT.format(app_id=step.app_id)
    if isinstance(error, KintoneFilterAbortedError):
        return TOO_MUCH_DATA
    if isinstance(error, KintoneAuthError):
        return AUTH
    if isinstance(error, KintoneAppAccessError):
        return APP_ACCESS.format(app_id=step.app_id)
    if isinstance(error, KintonePermissionError):
        needs = "と".join(f"「{PERMISSION_LABELS[p]}」" for p in step.needs)
        return NO_PERMISSION.format(app_id=step.app_id, needs=needs)
    if isinstance(error, KintoneNotFoundError):
        return _not_found(error, step)
    if isinstance(error, KintoneValidationError):
        return _refused(error, step)
    if isinstance(error, KintoneThrottledError):
        return BUSY
    if isinstance(error, KintoneNetworkError):
        return _no_answer(error)
    if isinstance(error, KintoneServerError):
        if error.status is None:
            return OTHER.format(code=error.code, message=error.message)
        if error.status < 500:
            return NOT_KINTONE.format(status=error.status)
        return SERVER_ERROR.format(status=error.status)
    return OTHER.format(code=error.code, message=error.message)


def missing_permissions_message(found: set[str], needs: tuple[str, ...]) -> str | None:
    """What a token lacks of `needs` (keys of PERMISSION_LABELS), or None when it has them all."""
    missing = [p for p in needs if p not in found]
    if not missing:
        return None
    return PERMISSIONS_MISSING.format(
        missing="、".join(f"「{PERMISSION_LABELS[p]}」" for p in missing),
        needs="と".join(f"「{PERMISSION_LABELS[p]}」" for p in needs),
    )


def permissions_ok_message(needs: tuple[str, ...]) -> str:
    """The 接続テスト success message naming the permissions checked."""
    return PERMISSIONS_OK.format(needs="".join(f"「{PERMISSION_LABELS[p]}」" for p in needs))


def kintone_error_code(error: KintoneError | BudgetExceeded, step: KintoneStep) -> str:
    """A short classification of a kintone failure for the run row (`Run.error_code`)."""
    if isinstance(error, BudgetExceeded):
        return "kintone_limit"
    if isinstance(error, KintoneFilterAbortedError):
        return "kintone_too_many"
    if isinstance(error, KintoneValidationError):
        if error.code == "GAIA_IQ11":
            return "kintone_field"
        if step.writing is not None:
            return "kintone_write"
        return "kintone_query" if step.conditions else "kintone_refused"
    if isinstance(error, KintoneNotFoundError):
        return "kintone_app" if error.code == "GAIA_AP01" else "kintone_error"
    if isinstance(error, KintoneAppAccessError):
        return "kintone_app"
    kinds: tuple[tuple[type[KintoneError], str], ...] = (
        (KintoneAuthError, "kintone_auth"),
        (KintonePermissionError, "kintone_permission"),
        (KintoneThrottledError, "kintone_busy"),
        (KintoneTimeoutError, "kintone_timeout"),
        (KintoneNetworkError, "kintone_network"),
        (KintoneServerError, "kintone_server"),
    )
    return next((code for kind, code in kinds if isinstance(error, kind)), "kintone_error")


def _not_found(error: KintoneNotFoundError, step: KintoneStep) -> str:
    if error.code in ("GAIA_RE01", "GAIA_RE02"):
        return RECORD_NOT_FOUND.format(code=error.code, message=error.message)
    if error.code == "GAIA_AP01" or error.code.startswith("HTTP_"):
        return APP_NOT_FOUND.format(app_id=step.app_id)
    return OTHER.format(code=error.code, message=error.message)


def _refused(error: KintoneValidationError, step: KintoneStep) -> str:
    if error.code == "GAIA_IQ11":
        return FIELD_MISSING.format(message=error.message)
    if step.writing is not None:
        field = f"「{error.field_code}」" if error.field_code else ""
        record = f"（レコード番号: {error.record_id}）" if error.record_id else ""
        return WRITE_REFUSED.format(
            field=field, what=step.writing, record=record, message=error.message
        )
    if step.conditions:
        return QUERY_REFUSED.format(code=error.code, message=error.message)
    return OTHER.format(code=error.code, message=error.message)


def _no_answer(error: KintoneNetworkError) -> str:
    if isinstance(error, KintoneTimeoutError) and error.timeout is not None:
        timeout = error.timeout
        if error.phase == "connect":
            return CONNECT_TIMEOUT.format(timeout=timeout)
        return READ_TIMEOUT.format(timeout=timeout, attempts=error.attempts)
    if isinstance(error, KintoneConnectionLostError):
        return CONNECTION_LOST
    return UNREACHABLE
