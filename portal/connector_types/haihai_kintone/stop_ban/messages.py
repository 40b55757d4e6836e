"""Japanese texts of a 配信停止/禁止顧客一覧連携 run: エラー詳細 and メッセージ詳細."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneConflictError,
    KintoneError,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneValidationError,
)
from portal.integrations.ledger import BudgetExceeded

if TYPE_CHECKING:
    from portal.connector_types.haihai_kintone.stop_ban.sync import Tally
    from portal.connector_types.haihai_kintone.stop_ban.writer import ChunkWriteFailed

_STEP6 = "「Step6. 配信停止/禁止顧客一覧連携」"
MSG_OFF = (
    f"配信停止/禁止顧客一覧連携は「連携しない」に設定されています。連携設定画面の{_STEP6}で"
    "連携タイミングを設定し、保存してから実行してください。"
)
MSG_NO_EMAIL = (
    "メールアドレスの連携項目が設定されていません。"
    "連携設定画面の「Step4. 連携項目設定」でkintoneのメールアドレス項目を設定してください。"
)
SHOWN_IDS = 10  # record ids listed in a message; the rest are counted


def email_field_missing(code: str) -> str:
    """The mail-address field of Step4 is gone from the app."""
    return (
        f"kintoneアプリにメールアドレスの連携項目（フィールドコード: {code}）が見つかりません。"
        "「kintone項目の同期」を行い、「Step4. 連携項目設定」を確認してください。"
    )


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:SHOWN_IDS])
    if len(ids) > SHOWN_IDS:
        shown += f" ほか{len(ids) - SHOWN_IDS:,}件"
    return shown


def _kept(written: int) -> str:
    if written == 0:
        return "kintoneのレコードは更新されていません。"
    return (
        f"それまでに更新した{written:,}件のレコードはそのまま更新済みです。"
        "再度実行すると、残りのレコードが連携されます。"
    )


def kintone_failure(error: KintoneError | BudgetExceeded, app_id: str, written: int) -> str:
    """What went wrong with kintone, what to fix, and how many records were already written."""
    return _kintone_head(error, app_id) + _kept(written)


def _kintone_head(error: KintoneError | BudgetExceeded, app_id: str) -> str:
    if isinstance(error, BudgetExceeded):
        head = (
            f"kintoneアプリ（アプリID: {app_id}）の1日あたりのAPIリクエスト数の上限に達したため、"
            "処理を中止しました。翌日以降に再度実行してください。"
        )
    elif isinstance(error, KintoneAuthError):
        head = (
            "kintone APIトークンが正しくありません。"
            "「Step3. kintone連携設定」のkintone APIトークンを確認してください。"
        )
    elif isinstance(error, KintonePermissionError):
        head = (
            "kintone APIトークンに必要なアクセス権がありません。"
            "kintoneアプリの設定でAPIトークンに「レコード閲覧」と「レコード編集」の権限を付与し、"
            "アプリを更新してください。"
        )
    elif isinstance(error, KintoneNotFoundError):
        head = (
            f"kintoneアプリ（アプリID: {app_id}）が見つかりません。"
            "「Step3. kintone連携設定」のkintone アプリIDを確認してください。"
        )
    elif isinstance(error, KintoneThrottledError):
        head = "kintoneへの同時アクセスが多すぎるため、処理を中止しました。時間を置いて再度実行してください。"
    elif isinstance(error, KintoneNetworkError | KintoneServerError):
        head = (
            "kintoneに接続できない、またはkintoneでエラーが発生したため、処理を中止しました。"
            "「Step3. kintone連携設定」のサブドメイン名を確認し、時間を置いて再度実行してください。"
        )
    else:
        head = (
            f"kintoneでエラーが発生しました（{error.code}: {error.message}）。"
            "時間を置いて再度実行しても解消しない場合は、サポートにご連絡ください。"
        )
    return head


def write_failure(
    failure: ChunkWriteFailed,
    properties: Mapping[str, Mapping[str, Any]],
    app_id: str,
    written: int,
) -> str:
    """A chunk kintone refused: the field and records concerned, and what stays written."""
    error = failure.error
    ids = _ids(failure.record_ids)
    if isinstance(error, BudgetExceeded):
        head = _kintone_head(error, app_id)
    elif isinstance(error, KintoneValidationError):
        code = error.field_code
        label = str((properties.get(code) or {}).get("label") or code) if code else None
        where = f"kintone項目「{label}」" if label else "kintoneのレコード"
        record = f"（レコードID: {error.record_id}）" if error.record_id else ""
        head = (
            f"{where}に値を書き込めませんでした{record}: {error.message} "
            f"kintone項目の設定（文字数・数値の範囲・必須など）と{_STEP6}の設定する値を確認してください。"
        )
    elif isinstance(error, KintoneConflictError):
        head = (
            "kintoneで同時にレコードが更新され続けたため、書き込めませんでした。"
            "時間を置いて再度実行してください。"
        )
    else:
        head = _kintone_head(error, app_id)
    return f"{head}書き込めなかったレコード（レコードID）: {ids}。{_kept(written)}"


def conflict_message(ids: Sequence[int], written: int) -> str:
    """Records that changed in kintone twice during the run were left as they are."""
    return (
        "連携中にkintoneで更新されたため、次のレコードは上書きせずにそのままにしました"
        f"（再読み込みして再試行した後も更新されていました）。レコードID: {_ids(ids)}。"
        f"他の{written:,}件のレコードは更新済みです。再度実行すると、残りのレコードが連携されます。"
    )


def summary(tally: Tally, stopped: int | None, banned: int | None) -> str:
    """メッセージ詳細 of a finished run: counts, and how many records got each value."""
    lists, names = [], []
    if stopped is not None:
        lists.append(f"配信停止 {stopped:,}件")
        names.append("配信停止")
    if banned is not None:
        lists.append(f"配信禁止 {banned:,}件")
        names.append("配信禁止")
    skipped = tally.no_email + tally.untargeted + tally.vanished
    lines = [
        f"kintoneのレコード: {tally.read:,}件（配配メール: {'・'.join(lists)}）",
        f"連携対象: {tally.targets:,}件（更新: {tally.written:,}件、変更なし: {tally.unchanged:,}件）",
        f"対象外: {skipped:,}件（メールアドレスなし: {tally.no_email:,}件、"
        f"{'・'.join(names)}の一覧に該当なし: {tally.untargeted:,}件"
        + (f"、連携中に削除: {tally.vanished:,}件" if tally.vanished else "")
        + "）",
    ]
    if tally.per_value:
        lines.append("更新した値:")
        for (label, reason, value), number in sorted(
            tally.per_value.items(), key=lambda item: (item[0][0], item[0][1], item[0][2])
        ):
            lines.append(f"・{label}: 「{value}」（{reason}） {number:,}件")
    return "\n".join(lines)
