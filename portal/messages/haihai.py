"""The Japanese wording of every 配配メール failure and CSV refusal, for every screen and run.

`haihai_message(error)` turns a typed error of `portal.integrations.haihai` into the sentence
the user reads; the API that failed (`error.operation`, set by the client) names the daily
limit and the plan a feature needs. `csv_message` / `csv_row_refusal` word the CSV writer's
refusals (a whole message, and the reason part of one 「連携されなかったデータ」 line).
"""

from __future__ import annotations

import datetime as dt
import math

from portal.integrations.haihai import (
    JST,
    HaihaiAuthError,
    HaihaiConnectionError,
    HaihaiEmptyPartError,
    HaihaiError,
    HaihaiImportFailedError,
    HaihaiImportTimeoutError,
    HaihaiImportUncertainError,
    HaihaiIpRefusedError,
    HaihaiLimitError,
    HaihaiNotFoundError,
    HaihaiPartTooLargeError,
    HaihaiPlanError,
    HaihaiProtocolError,
    HaihaiServerError,
    HaihaiTimeoutError,
    HaihaiUnavailableError,
    HaihaiValidationError,
    ImportMode,
    Op,
)
from portal.integrations.haihai_csv import CsvEncodeError, CsvEncoding, CsvRowTooLargeError

# Japanese names of each API (the daily limit is counted per API).
API_LABELS = {
    Op.ITEMS: "データベース項目の取得",
    Op.GROUPS: "配信グループの取得",
    Op.STEP_PLANS: "ステップメールプランの取得",
    Op.FORMS: "Bridgeフォームの取得",
    Op.CUSTOMERS: "顧客情報の取得",
    Op.DELIVERY_STATES: "配信停止・禁止顧客の取得",
    Op.OPEN_LOG: "メール開封履歴の取得",
    Op.CLICK_LOG: "URLクリック履歴の取得",
    Op.VISIT_LOG: "Web来訪履歴の取得",
    Op.CV_LOG: "CV履歴の取得",
    Op.DOWNLOAD_LOG: "添付ダウンロード履歴の取得",
    Op.FORM_ANSWERS: "Bridgeフォーム回答の取得",
    Op.IMPORT_RESULT: "一括登録・削除の処理結果の取得",
}
IMPORT_LABELS = {ImportMode.REGISTER: "CSV一括登録", ImportMode.DELETE: "CSV一括削除"}
STATE_CHANGE_LABEL = "CSV一括状態変更"
# Features that need a particular plan (spec §1.7, §1.8): label and required plan.
PLAN_NEEDS = {
    Op.VISIT_LOG: ("Web来訪の取得", "Bridgeプラン"),
    Op.CV_LOG: ("CVの取得", "スタンダードプラン以上"),
    # Forms are also visible to admin users only (spec §1.8).
    Op.FORMS: ("Bridgeフォームの取得", "Bridgeプランと管理者権限のあるログインID"),
    Op.FORM_ANSWERS: ("Bridgeフォーム回答の取得", "Bridgeプランと管理者権限のあるログインID"),
}

IMPORT_REPORT = "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]"
AUTH = (
    "配配メールのログインIDまたはAPIトークンが正しくありません。"
    "「Step2. 配配メール連携設定」のログインIDとAPIトークンを確認してください。"
    "APIトークンを再生成・削除した場合や、このログインIDのユーザーが配配メールで削除された場合は、"
    "設定し直してください。"
)
IP_REFUSED = (
    "配配メールがこのサーバーのIPアドレスからのAPI接続を拒否しました。"
    "配配メールの[各種設定] > [システム設定] > [基本設定]の「API IPアドレス制限」に、"
    "このサーバーのIPアドレスを登録してください。"
)
UNREACHABLE = (
    "配配メールに接続できませんでした。配配メールURLが正しいか確認し、"
    "時間を置いて再度実行してください。"
)
CONNECTION_LOST = "配配メールとの通信が途中で切断されました。時間を置いて再度実行してください。"
READ_TIMEOUT = (
    "配配メールが{timeout:g}秒以内に応答しなかったため、処理を中止しました（{attempts}回試行）。"
    "時間を置いて再度実行してください。"
)
CONNECT_TIMEOUT = (
    "配配メールに{timeout:g}秒以内に接続できませんでした。配配メールURLが正しいか確認し、"
    "時間を置いて再度実行してください。"
)
SERVER_ERROR = "配配メールでエラーが発生しました（{detail}）。時間を置いて再度実行してください。"
UPLOAD_UNCONFIRMED = (
    "取り込みが受け付けられたか確認できませんでした。"
    "二重に取り込まれるのを防ぐため、自動では再送していません。"
    f"{IMPORT_REPORT}を確認してから、必要に応じて再度実行してください。"
)
UPLOAD_BROKE_OFF = "配配メールへのCSV送信中に応答が途絶えたため、"
UPLOAD_TIMED_OUT = "配配メールへCSVを送信した後、{timeout:g}秒以内に応答がなかったため、"
UPLOAD_SERVER_ERROR = "配配メールがCSVの送信に対してエラー（{detail}）を返したため、"
PART_TOO_LARGE = (
    "CSVファイルが上限の15MBを超えているため（{size:,}バイト）、配配メールへ送信しませんでした。"
)
PART_EMPTY = "CSVファイルが空のため、配配メールへ送信しませんでした。"


def format_jst(moment: dt.datetime) -> str:
    """Render an aware datetime the way the portal shows times: 2025年01月02日 00:00 (JST)."""
    return moment.astimezone(JST).strftime("%Y年%m月%d日 %H:%M")


def api_label(operation: Op | None, mode: ImportMode | None = None) -> str | None:
    """The Japanese name of the API that was called, when known."""
    if operation is Op.IMPORT:
        return IMPORT_LABELS.get(mode, STATE_CHANGE_LABEL)  # type: ignore[arg-type]
    return API_LABELS.get(operation) if operation is not None else None


def haihai_message(error: HaihaiError) -> str:
    """The Japanese sentence that tells the user what went wrong and what to do."""
    for kind, word in _WORDING:
        if isinstance(error, kind):
            return word(error)
    detail = f"（コード: {error.code}）" if error.code is not None else ""
    return (
        f"配配メールAPIでエラーが発生しました{detail}。{error.message}".rstrip("。") + "。"
        "時間を置いて再度実行しても解消しない場合は、サポートにご連絡ください。"
    )


def haihai_error_code(error: HaihaiError) -> str:
    """A short classification of a 配配メール failure for the run row (`Run.error_code`)."""
    if isinstance(error, HaihaiAuthError):
        return "haihai_auth"
    if isinstance(error, HaihaiLimitError):
        return "haihai_limit"
    if isinstance(error, HaihaiNotFoundError):
        return "haihai_target"
    if isinstance(error, HaihaiImportUncertainError):
        return "haihai_uncertain"
    if isinstance(error, HaihaiTimeoutError):
        return "haihai_timeout"
    if isinstance(error, HaihaiServerError):
        return "haihai_server"
    if isinstance(error, HaihaiUnavailableError):
        return "haihai_network"
    return "haihai_error"


def _plan(error: HaihaiPlanError) -> str:
    feature, required = PLAN_NEEDS.get(error.operation, (None, None))  # type: ignore[arg-type]
    feature = feature or "この機能"
    if required:
        return (
            f"{feature}は、ご契約中の配配メールのプランではご利用いただけません"
            f"（{required}が必要です）。配配メールのご契約プランを確認してください。"
        )
    return f"{feature}は、ご契約中の配配メールのプランではご利用いただけません。"


def _limit(error: HaihaiLimitError) -> str:
    label = api_label(error.operation, error.import_mode)
    api = f"（{label}）" if label else ""
    limit = f"（{error.limit}回）" if error.limit else ""
    return (
        f"配配メールAPI{api}の1日あたりの実行回数の上限{limit}に達したため、処理を中止しました。"
        f"実行回数は{format_jst(error.resets_at)}（日本時間）にリセットされます。"
        "リセット後に再度実行してください。"
    )


def _not_found(error: HaihaiNotFoundError) -> str:
    return (
        f"指定された対象が配配メールに見つかりません（{error.message}）。"
        "配配メールURLが正しいか確認し、「配配メール設定の同期」を行って連携設定を確認してください。"
    )


def _refused(error: HaihaiValidationError) -> str:
    detail = f"（コード: {error.code}）" if error.code is not None else ""
    reason = f"{error.message.rstrip('。')}。" if error.message else ""
    return (
        f"配配メールが送信内容を受け付けませんでした{detail}。{reason}"
        "連携設定の内容を確認してください。"
    )


def _server_detail(error: HaihaiUnavailableError) -> str:
    if error.http_status is not None and error.http_status >= 500:
        return f"HTTP {error.http_status}"
    if error.code is not None:
        return f"コード: {error.code}"
    return f"HTTP {error.http_status}"


def _unavailable(error: HaihaiUnavailableError) -> str:
    if isinstance(error, HaihaiTimeoutError):
        if error.phase == "connect":
            return CONNECT_TIMEOUT.format(timeout=error.timeout)
        return READ_TIMEOUT.format(timeout=error.timeout, attempts=error.attempts)
    if isinstance(error, HaihaiServerError) or (
        not isinstance(error, HaihaiConnectionError) and error.http_status is not None
    ):
        return SERVER_ERROR.format(detail=_server_detail(error))
    if error.maybe_delivered and isinstance(error, HaihaiConnectionError):
        return CONNECTION_LOST
    return UNREACHABLE


def _uncertain(error: HaihaiImportUncertainError) -> str:
    cause = error.cause
    if isinstance(cause, HaihaiTimeoutError):
        why = UPLOAD_TIMED_OUT.format(timeout=cause.timeout)
    elif isinstance(cause, HaihaiServerError) or (cause is None and error.http_status):
        why = UPLOAD_SERVER_ERROR.format(detail=_server_detail(cause or error))
    else:
        why = UPLOAD_BROKE_OFF
    return why + UPLOAD_UNCONFIRMED


def _protocol(error: HaihaiProtocolError) -> str:
    status = f"（HTTP {error.http_status}）" if error.http_status is not None else ""
    return (
        f"配配メールから想定外の応答がありました{status}。"
        "「Step2. 配配メール連携設定」の配配メールURLが正しいか確認してください。"
    )


def _import_failed(error: HaihaiImportFailedError) -> str:
    return (
        f"配配メールでCSVの取り込み処理が失敗しました（ジョブID: {error.result.job_id}）。"
        f"{IMPORT_REPORT}を確認してください。"
    )


def _import_timeout(error: HaihaiImportTimeoutError) -> str:
    minutes = max(1, math.ceil(error.waited / 60))
    return (
        f"配配メールでのCSV取り込み処理が{minutes}分以内に完了しませんでした"
        f"（ジョブID: {error.job_id}）。処理は配配メールで継続している可能性があります。"
        f"{IMPORT_REPORT}で結果を確認してください。"
    )


# Most specific first: a subclass must come before its base.
_WORDING = (
    (HaihaiAuthError, lambda e: AUTH),
    (HaihaiIpRefusedError, lambda e: IP_REFUSED),
    (HaihaiPlanError, _plan),
    (HaihaiLimitError, _limit),
    (HaihaiNotFoundError, _not_found),
    (HaihaiPartTooLargeError, lambda e: PART_TOO_LARGE.format(size=e.size)),
    (HaihaiEmptyPartError, lambda e: PART_EMPTY),
    (HaihaiValidationError, _refused),
    (HaihaiImportUncertainError, _uncertain),
    (HaihaiUnavailableError, _unavailable),
    (HaihaiProtocolError, _protocol),
    (HaihaiImportFailedError, _import_failed),
    (HaihaiImportTimeoutError, _import_timeout),
)


# --- CSV refusals ---------------------------------------------------------------------------


def _encoding_label(encoding: CsvEncoding) -> str:
    return "Shift_JIS" if encoding is CsvEncoding.SHIFT_JIS else encoding.name


def csv_message(error: CsvEncodeError | CsvRowTooLargeError) -> str:
    """A whole sentence for a refused header or row (row 0 is the header)."""
    if isinstance(error, CsvRowTooLargeError):
        where = "ヘッダー行" if error.row == 0 else f"{error.row}件目のデータ"
        return (
            f"{where}が大きすぎるため（{error.size:,}バイト）、"
            f"上限{error.max_bytes:,}バイトのCSVファイルに収まりません。"
        )
    label = _encoding_label(error.encoding)
    char = f"「{error.char}」(U+{ord(error.char):04X})"
    if error.row == 0:
        return f"項目名「{error.column}」に、{label}で送信できない文字{char}が含まれています。"
    return (
        f"{error.row}件目のデータの「{error.column}」に、{label}で送信できない文字{char}"
        "が含まれているため、この行は連携されません。"
    )


def csv_row_refusal(error: CsvEncodeError | CsvRowTooLargeError) -> str:
    """Why one record was left out, for its 「連携されなかったデータ」 line."""
    if isinstance(error, CsvRowTooLargeError):
        return "データが大きすぎるため連携しませんでした"
    return (
        f"「{error.column}」に{_encoding_label(error.encoding)}で送信できない文字"
        f"「{error.char}」(U+{ord(error.char):04X})が含まれているため連携しませんでした"
    )
