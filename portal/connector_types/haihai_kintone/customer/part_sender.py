"""Sending CSV parts to 配配メール: one upload per part (recorded in the run's part journal so a
re-run does not send a part twice), then waiting for every import's result in order."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from portal.connector_types.haihai_kintone.customer.sync_result import (
    CustomerSyncError,
    HaihaiAccessError,
    RunState,
)
from portal.integrations.haihai import (
    DeliveryState,
    HaihaiError,
    HaihaiImportUncertainError,
    ImportOptions,
    ImportResult,
)
from portal.integrations.haihai_csv import CsvPart
from portal.messages.haihai import IMPORT_REPORT, haihai_error_code, haihai_message

if TYPE_CHECKING:
    from portal.syncs.context import PartJournal

# A run's log lines all carry the service's logger name.
log = logging.getLogger("portal.connector_types.haihai_kintone.customer.sync")

REPORT_HINT = f"{IMPORT_REPORT}で取り込み結果を確認してください。"


class HaihaiImports(Protocol):
    """The part of HaihaiClient the service uses."""

    def import_csv(self, part: bytes, options: ImportOptions) -> str: ...

    def wait_for_import(self, import_id: str, **kwargs: Any) -> ImportResult: ...

    def import_status(self, import_id: str) -> Any: ...

    def iter_delivery_states(self, state: DeliveryState, **kwargs: Any) -> Iterator[Any]: ...

    def list_groups(self) -> list[Any]: ...

    def list_step_plans(self) -> list[Any]: ...


def part_fingerprint(data: bytes, options: ImportOptions) -> str:
    """sha256 of a part's import options and its lines in sorted order.

    The parallel read hands records over in a varying order, so the same rows must give the same
    fingerprint whatever their order in the file.
    """
    digest = hashlib.sha256(repr(options).encode())
    for line in sorted(data.split(b"\n")):
        digest.update(len(line).to_bytes(8, "big"))
        digest.update(line)
    return digest.hexdigest()


class PartSender:
    """Sends parts to 配配メール, remembers what was sent, waits for the results."""

    def __init__(
        self,
        haihai: HaihaiImports,
        *,
        first_poll: float | None,
        import_wait: float,
        clock: Callable[[], float] = time.monotonic,
        journal: PartJournal | None = None,
        first_number: int = 1,
    ):
        self.haihai = haihai
        self.first_poll = first_poll
        self.import_wait = import_wait
        self.clock = clock
        self.journal = journal
        self.first_number = first_number  # journal number of this sender's first part
        self.parts_sent = 0
        self.rows_sent = 0
        self.job_ids: list[str] = []
        self.reused: list[str] = []  # jobs of an earlier run that already carried a part
        self.pending: list[tuple[str, int, int, float]] = []  # job, part no, rows, sent at

    def send(self, part: CsvPart, options: ImportOptions, failure: Callable[..., Exception]):
        """Upload one part (part numbers count from 1 across the whole run).

        With a journal the part is recorded before the upload and with its job ID after it, and
        a part an interrupted earlier run already sent with the same content is not sent again.
        """
        number = self.parts_sent + 1
        journal_number = self.first_number + self.parts_sent
        fingerprint = part_fingerprint(part.data, options) if self.journal else ""
        job_id = self._reusable_job(fingerprint) if self.journal else None
        if job_id is not None:
            self.journal.sending(journal_number, fingerprint, part.row_count, part.size)
            self.journal.sent(journal_number, job_id, reused=True)
            self.reused.append(job_id)
        else:
            if self.journal is not None:
                self.journal.sending(journal_number, fingerprint, part.row_count, part.size)
            try:
                job_id = self.haihai.import_csv(part.data, options)
            except HaihaiError as error:
                raise failure(error, number) from error
            if self.journal is not None:
                self.journal.sent(journal_number, job_id)
        self.parts_sent = number
        self.rows_sent += part.row_count
        self.job_ids.append(job_id)
        self.pending.append((job_id, number, part.row_count, self.clock()))
        log.debug(  # the 配配メール client already logs each queued import at INFO
            "customer_sync part sent part=%d rows=%d bytes=%d job_id=%s mode=%s",
            number,
            part.row_count,
            part.size,
            job_id,
            options.mode.value,
        )
        return job_id

    def _reusable_job(self, fingerprint: str) -> str | None:
        """The job of an identical part sent by an interrupted earlier run, unless it failed."""
        candidate = self.journal.reusable_job(fingerprint)
        if candidate is None:
            return None
        try:
            status = self.haihai.import_status(candidate)
        except HaihaiError as error:
            log.warning("customer_sync earlier job unreadable job_id=%s error=%s", candidate, error)
            return None
        if status.state == "failed":
            return None
        log.info("customer_sync part already sent job_id=%s state=%s", candidate, status.state)
        return candidate

    def wait_all(self, failure: Callable[..., Exception]) -> list[tuple[int, ImportResult]]:
        """Wait for every pending job in order; [(part number, result)]."""
        results = []
        for job_id, number, _rows, _sent_at in self.pending:
            if job_id in self.reused:
                first = 0.0  # sent long ago by the earlier run
            elif self.first_poll is not None:
                first = self.first_poll
            else:
                first = None  # the client's: shortly after the upload, then aimed by progress
            try:
                result = self.haihai.wait_for_import(
                    job_id, max_wait=self.import_wait, first_poll=first
                )
            except HaihaiError as error:
                raise failure(error, number) from error
            results.append((number, result))
        self.pending = []
        return results


def with_sent(error: CustomerSyncError, sender: PartSender, state: RunState) -> CustomerSyncError:
    """Add what had been sent already to an error raised mid-run."""
    error.total = state.total
    error.parts_sent = sender.parts_sent
    error.rows_sent = sender.rows_sent
    error.job_ids = tuple(sender.job_ids)
    if sender.parts_sent:
        error.message += " " + sent_sentence(sender)
    return error


def sent_sentence(sender: PartSender) -> str:
    """The sentence saying which parts had already been sent when a run failed."""
    if sender.parts_sent == 1:
        which = "1番目のCSVファイル"
    else:
        which = f"1〜{sender.parts_sent}番目のCSVファイル"
    return (
        f"なお、分割したCSVファイルのうち{which}（計{sender.rows_sent:,}件）は"
        f"配配メールへ送信済みです（ジョブID: {', '.join(sender.job_ids)}）。{REPORT_HINT}"
    )


def haihai_failure_message(error: HaihaiError, part_number: int, sender: PartSender) -> str:
    """The エラー詳細 of a 配配メール failure while part `part_number` was sent or awaited."""
    base = haihai_message(error)
    if isinstance(error, HaihaiImportUncertainError):
        base += f"（{part_number}番目のCSVファイルの送信中）"
    if sender.parts_sent:
        base += " " + sent_sentence(sender)
    return base


def haihai_failure(
    sender: PartSender, state: RunState
) -> Callable[[HaihaiError, int], CustomerSyncError]:
    """The `failure` callback of a run: a 配配メール error of part `part_number` becomes a
    HaihaiAccessError carrying what had been sent and accepted at that moment."""

    def failure(error: HaihaiError, part_number: int) -> CustomerSyncError:
        return HaihaiAccessError(
            haihai_failure_message(error, part_number, sender),
            code=haihai_error_code(error),
            processed=state.accepted,
            total=state.total,
            parts_sent=sender.parts_sent,
            rows_sent=sender.rows_sent,
            job_ids=sender.job_ids,
        )

    return failure
