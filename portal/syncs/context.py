"""What a process handler receives and returns: the contract between run_sync and the syncs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.syncs.config import ConnectorConfig


class RunFailed(Exception):
    """Ends a run in エラー with `message`, a specific Japanese sentence the user can act on."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "failed",
        processed: int | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.processed = processed
        self.total = total


class RunOptionsInvalid(ValueError):
    """The options posted with 「実行する」 are refused; `message` is shown on the 実行 page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RunOutcome:
    """A finished run's counts (処理件数 processed / total) and optional メッセージ詳細."""

    processed: int
    total: int
    message_detail: str | None = None


@dataclass
class RunContext:
    """One run as its handler sees it: ids, options, the connector settings and progress."""

    run_id: str
    connector_id: str
    process_key: str
    process_number: int | None
    trigger: str
    params: dict
    started_at: dt.datetime
    timezone: str
    load_config: Callable[[], ConnectorConfig]
    report_progress: Callable[[int, int], None] = field(repr=False)
    # The worker's shared Redis (daily API budgets) and the app's settings, so handlers need
    # neither Flask's current_app nor the job layer.
    redis: Any = field(default=None, repr=False)
    app_config: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _config: ConnectorConfig | None = field(default=None, init=False, repr=False)

    @property
    def task_id(self) -> str:
        """The タスクID users quote to support (the run id)."""
        return self.run_id

    @property
    def config(self) -> ConnectorConfig:
        """The connector's settings, loaded once when first needed."""
        if self._config is None:
            self._config = self.load_config()
        return self._config

    @property
    def allow_local_urls(self) -> bool:
        """True when service URLs on loopback are allowed (sandboxes in demo and tests)."""
        return bool(self.app_config.get("HAIHAI_ALLOW_LOCAL_URLS"))

    def progress(self, processed: int, total: int) -> None:
        """Report progress; the row is written at most once a second (and at the end)."""
        self.report_progress(processed, total)


Handler = Callable[[RunContext], RunOutcome]
