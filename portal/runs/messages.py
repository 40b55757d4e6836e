"""Japanese messages of the run machinery that users see in 「エラー詳細」."""

__all__ = [
    "BUSY_MESSAGE",
    "DAILY_LIMIT_MESSAGE",
    "ENQUEUE_FAILED_MESSAGE",
    "LOCK_LOST_MESSAGE",
    "NOT_AVAILABLE_MESSAGE",
    "NOT_STARTED_MESSAGE",
    "NOTHING_WRITTEN",
    "SETTINGS_MISSING_MESSAGE",
    "TIMEOUT_MESSAGE",
    "UNEXPECTED_MESSAGE",
    "WORKER_LOST_MESSAGE",
    "redis_unavailable_message",
    "with_details",
    "writes_sentence",
]

# A second run of an exclusion group that is already running (manual 付録6.3).
BUSY_MESSAGE = (
    "他の処理が実行されています。時間を置いて再度実行してください。"
    "再実行しても失敗する場合は、サポートにご連絡ください。"
)

# The first sentence is the manual's note of Step6, word for word.
DAILY_LIMIT_MESSAGE = (
    "1日に実行可能な連携回数は最大10回までとなります。"
    "本日の実行回数が上限に達したため、連携処理は実行されませんでした。"
    "翌日以降に再度実行してください。"
)
WORKER_LOST_MESSAGE = (
    "連携処理を実行していたワーカーが停止したため、処理が中断されました。"
    "時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"
)
NOT_STARTED_MESSAGE = (
    "連携処理を開始できませんでした（実行待ちの処理が失われました）。"
    "時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"
)
ENQUEUE_FAILED_MESSAGE = (
    "連携処理の受付に失敗しました（ジョブキューに接続できません）。"
    "時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"
)
UNEXPECTED_MESSAGE = (
    "予期しないエラーが発生したため、連携処理が中断されました。"
    "再実行しても失敗する場合は、サポートにご連絡ください。"
)
NOT_AVAILABLE_MESSAGE = "この連携処理は現在ご利用いただけません。サポートにご連絡ください。"
SETTINGS_MISSING_MESSAGE = (
    "連携設定が読み込めませんでした。連携設定画面で設定を確認し、保存してから再度実行してください。"
)
TIMEOUT_MESSAGE = (
    "処理時間の上限を超えたため、連携処理が中断されました。"
    "連携条件で対象データを絞り込むか、サポートにご連絡ください。"
)
LOCK_LOST_MESSAGE = (
    "実行中に連携処理の排他制御が失われ、同じグループの別の連携処理が実行されているため、"
    "この連携処理を中断しました。時間を置いて再度実行してください。"
)
NOTHING_WRITTEN = "kintone・配配メールへの書き込みは行われていません。"
_RETRY = "時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"


def redis_unavailable_message(waited_seconds: float) -> str:
    """The エラー詳細 of a run that gave up waiting for Redis (what was written follows it)."""
    return (
        f"ジョブキュー（Redis）に接続できない状態が{int(waited_seconds)}秒以上続いたため、"
        f"連携処理を中断しました。{_RETRY}"
    )


def writes_sentence(kintone_writes: int, haihai_uploads: int) -> str:
    """What a run cut short had already sent (a write counts once it was attempted)."""
    if not kintone_writes and not haihai_uploads:
        return NOTHING_WRITTEN
    done = []
    if kintone_writes:
        done.append(f"kintoneへの書き込み（{kintone_writes}回）")
    if haihai_uploads:
        done.append(f"配配メールへのCSVファイルの送信（{haihai_uploads}回）")
    return f"中断までに{'、'.join(done)}を行っています。"


def with_details(message: str, details: str | None) -> str:
    """`message` followed by `details` on the next line (when there are any)."""
    return f"{message}\n{details}" if details else message
