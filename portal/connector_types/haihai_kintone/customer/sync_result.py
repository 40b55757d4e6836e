"""What a 顧客情報連携 run ends in: its outcome (処理件数, details) or one of its errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_DETAIL_LINES = 1000


@dataclass
class CustomerSyncOutcome:
    """What a finished 顧客情報連携 did: 処理件数 processed / total and the details to show."""

    processed: int
    total: int
    parts: int = 0
    job_ids: tuple[str, ...] = ()
    # Customers set to 配信停止 because they are missing from kintone; None when 配配メール's own
    # option did it together with 配信可能 changes (its count does not separate the two).
    stopped: int | None = 0
    row_errors: list[str] = field(default_factory=list)  # Japanese, one line per refused row
    row_error_count: int = 0  # all refused rows (row_errors is capped)
    notes: list[str] = field(default_factory=list)  # Japanese summary lines

    @property
    def message_detail(self) -> str | None:
        """The メッセージ詳細 text: summary lines, then the refused rows; None when empty."""
        lines = list(self.notes)
        if self.row_error_count:
            lines.append(f"連携されなかったデータ: {self.row_error_count:,}件")
            lines.extend(f"・{line}" for line in self.row_errors)
            hidden = self.row_error_count - len(self.row_errors)
            if hidden > 0:
                lines.append(f"ほか{hidden:,}件")
        return "\n".join(lines) if lines else None


class CustomerSyncError(Exception):
    """A 顧客情報連携 run failed; `message` is the specific Japanese sentence for 「エラー詳細」.

    `code` classifies the failure: settings, kintone_field, kintone_too_many, or a code of
    `portal.messages.kintone.kintone_error_code` / `portal.messages.haihai.haihai_error_code`
    (kintone_auth, kintone_timeout, haihai_server, …). `parts_sent` and `job_ids` say what had
    already been sent to 配配メール when it failed (the message says so too).
    """

    code = "failed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        processed: int = 0,
        total: int = 0,
        parts_sent: int = 0,
        rows_sent: int = 0,
        job_ids: Sequence[str] = (),
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.processed = processed
        self.total = total
        self.parts_sent = parts_sent
        self.rows_sent = rows_sent
        self.job_ids = tuple(job_ids)

    @property
    def user_message(self) -> str:
        """Same as `message`."""
        return self.message


class CustomerSyncSettingsError(CustomerSyncError):
    """The 顧客情報連携設定 is incomplete or contradictory (fix it on the settings page)."""

    code = "settings"


class KintoneFieldMissingError(CustomerSyncError):
    """A mapped or condition kintone field no longer exists (or changed its type)."""

    code = "kintone_field"

    def __init__(self, message: str, *, field_code: str, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.field_code = field_code


class KintoneAccessError(CustomerSyncError):
    """kintone refused or could not be reached (token, permission, app, query, network)."""

    code = "kintone_error"


class HaihaiAccessError(CustomerSyncError):
    """配配メール refused or could not be reached (token, daily limit, network, job failure)."""

    code = "haihai_error"


@dataclass
class RunState:
    """The tallies of a run in progress: records read, rows accepted, refused rows."""

    total: int = 0
    accepted: int = 0
    refused_with_address: bool = False
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, line: str) -> None:
        """Count one refused row; keep its line while fewer than MAX_DETAIL_LINES are kept."""
        self.error_count += 1
        if len(self.errors) < MAX_DETAIL_LINES:
            self.errors.append(line)
