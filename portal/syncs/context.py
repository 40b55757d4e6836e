"""What a process handler receives and returns: the contract between run_sync and the syncs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

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


class RunFenced(Exception):
    """This process no longer owns its run (its row already ended, or its group lock is held by
    another run): it must stop at once and write nothing more, not even the run's row."""


class WriteGuard(Protocol):
    """The ownership check a run's writers call before every write to kintone or 配配メール."""

    def check(self) -> None:
        """Raise RunFenced when the run is no longer this process's."""

    def before_write(self, target: str) -> None:
        """`check()`, then count one write to `target` ("kintone" or "haihai")."""


class PartJournal(Protocol):
    """Where a run records the CSV parts it sends to 配配メール (see portal.runs.parts)."""

    def reusable_job(self, fingerprint: str) -> str | None:
        """The job ID of an identical part an earlier, interrupted run of the process sent."""

    def sending(self, number: int, fingerprint: str, rows: int, size: int) -> None:
        """Note that part `number` is about to be uploaded."""

    def sent(self, number: int, job_id: str, *, reused: bool = False) -> None:
        """Note 配配メール's job ID for part `number` (reused: not uploaded again)."""


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
    # Set by the worker (jobs.runs); handlers run outside a worker (tests) without them.
    guard: WriteGuard | None = field(default=None, repr=False)
    part_journal: PartJournal | None = field(default=None, repr=False)
    # How long a Redis call of the run (e.g. the shared API budget) waits out an outage.
    redis_wait: float = 0.0
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

    def check_owned(self) -> None:
        """Raise RunFenced when this process no longer owns the run (call between steps)."""
        if self.guard is not None:
            self.guard.check()

    @contextmanager
    def active(self) -> Iterator[RunContext]:
        """Make this the run `current_run()` returns in this thread while the handler runs."""
        token = _current_run.set(self)
        try:
            yield self
        finally:
            _current_run.reset(token)


Handler = Callable[[RunContext], RunOutcome]

_current_run: ContextVar[RunContext | None] = ContextVar("current_run", default=None)


def current_run() -> RunContext | None:
    """The run whose handler is executing in this thread, if any.

    Clients built while a run is active fence their writes with its guard (portal.syncs.clients),
    so no handler can forget to.
    """
    return _current_run.get()
