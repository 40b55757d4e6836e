"""Japanese messages of the run machinery that users see in 「エラー詳細」."""

__all__ = [
    "BUSY_MESSAGE",
    "DAILY_LIMIT_MESSAGE",
    "ENQUEUE_FAILED_MESSAGE",
    "NOT_AVAILABLE_MESSAGE",
    "NOT_STARTED_MESSAGE",
    "SETTINGS_MISSING_MESSAGE",
    "UNEXPECTED_MESSAGE",
    "WORKER_LOST_MESSAGE",
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
