"""Bulk writes with the revision check: 2,000 records per bulkRequest, a few calls in flight.

Every update carries the revision the record was read with, so a record edited in kintone
meanwhile is never overwritten blindly. kintone refuses the whole bulkRequest then (all or
nothing, GAIA_CO02); the chunk's records are read again, their updates decided again from the
new values, and the chunk sent once more. A record whose revision changes a second time is left
alone and reported (`ChunkResult.conflicted`). A record deleted meanwhile (GAIA_RE01) is
dropped. An answer lost on the way (timeout, dropped connection, 500) may hide a write that was
applied: such a chunk is likewise read again once and only what still differs is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.haihai_kintone.stop_ban.values import CHANGE, Decision, PlannedWrite
from portal.integrations.kintone import (
    KintoneClient,
    KintoneConflictError,
    KintoneError,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintoneServerError,
)
from portal.integrations.ledger import BudgetExceeded

WRITE_CHUNK = 2000  # records per bulkRequest (20 requests × 100 records)
READ_PAGE = 500
MAX_IN_FLIGHT = 3
MAX_ROUNDS = 5  # sends per chunk: the first, retries after conflicts, one after a lost answer


@dataclass
class ChunkResult:
    """What became of one chunk."""

    written: list[PlannedWrite] = field(default_factory=list)
    # Decisions of re-read records that no longer need a write (UNCHANGED, NO_EMAIL, …).
    redecided: Counter = field(default_factory=Counter)
    vanished: int = 0  # deleted in kintone meanwhile
    conflicted: list[int] = field(default_factory=list)  # ids changed twice meanwhile
    calls: int = 0


class ChunkWriteFailed(Exception):
    """A chunk could not be written; `error` is kintone's answer (or the daily budget's refusal),
    `record_ids` the chunk's ids."""

    def __init__(self, error: KintoneError | BudgetExceeded, record_ids: Sequence[int]):
        super().__init__(str(error))
        self.error = error
        self.record_ids = list(record_ids)


def _is_retriable(error: KintoneError) -> bool:
    """A refusal that re-reading the chunk can resolve (conflict, record deleted)."""
    if isinstance(error, KintoneConflictError):
        return True
    return isinstance(error, KintoneNotFoundError) and error.code == "GAIA_RE01"


def _may_have_applied(error: KintoneError) -> bool:
    """An answer that was lost: the write may or may not have happened."""
    if isinstance(error, KintoneNetworkError):
        return error.maybe_applied
    return isinstance(error, KintoneServerError) and error.status != 503


class RevisionWriter:
    """Collects PlannedWrites and sends them in chunks while the caller keeps reading.

    `decide(record)` re-plans a re-read record; `read_fields` are the fields to re-read it with.
    `on_result(result)` is called in the caller's thread for every finished chunk. `close()`
    sends the rest, waits, and raises ChunkWriteFailed for the first chunk that failed (chunks
    already written stay written; the others in flight are waited for and reported first).
    """

    def __init__(
        self,
        kintone: KintoneClient,
        app: int,
        decide: Callable[[Mapping[str, Any]], Decision],
        read_fields: Sequence[str],
        on_result: Callable[[ChunkResult], None],
        *,
        chunk_size: int = WRITE_CHUNK,
        max_in_flight: int = MAX_IN_FLIGHT,
    ):
        self.kintone = kintone
        self.app = app
        self.decide = decide
        self.read_fields = list(dict.fromkeys([*read_fields, "$id", "$revision"]))
        self.on_result = on_result
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self._buffer: list[PlannedWrite] = []
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="stop-ban-write")
        self._in_flight: dict[Future, list[PlannedWrite]] = {}
        self._failure: ChunkWriteFailed | None = None

    # -- caller side ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Updates handed over but not yet settled."""
        return len(self._buffer) + sum(len(chunk) for chunk in self._in_flight.values())

    def add(self, write: PlannedWrite) -> None:
        """Queue one update; raises ChunkWriteFailed as soon as a chunk has failed."""
        self._raise_if_failed()
        self._buffer.append(write)
        if len(self._buffer) >= self.chunk_size:
            self._submit()

    def close(self) -> None:
        """Send what is left, wait for everything, raise the first failure."""
        try:
            if self._buffer and self._failure is None:
                self._submit()
            self._settle(all_of_them=True)
        finally:
            self._pool.shutdown(wait=True)
        self._raise_if_failed()

    def abandon(self) -> None:
        """Stop after a failure elsewhere: wait for the chunks in flight, send nothing more."""
        self._buffer = []
        try:
            self._settle(all_of_them=True)
        finally:
            self._pool.shutdown(wait=True)

    def _submit(self) -> None:
        chunk, self._buffer = self._buffer, []
        while len(self._in_flight) >= self.max_in_flight:
            self._settle(all_of_them=False)
        self._raise_if_failed()
        self._in_flight[self._pool.submit(self._write_chunk, chunk)] = chunk

    def _settle(self, *, all_of_them: bool) -> None:
        while self._in_flight:
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                chunk = self._in_flight.pop(future)
                try:
                    self.on_result(future.result())
                except (KintoneError, BudgetExceeded) as error:
                    if self._failure is None:
                        self._failure = ChunkWriteFailed(error, [w.record_id for w in chunk])
            if not all_of_them:
                return

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    # -- worker side ---------------------------------------------------------------------

    def _reread(self, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        found: dict[int, Mapping[str, Any]] = {}
        for start in range(0, len(ids), READ_PAGE):
            part = ids[start : start + READ_PAGE]
            query = f"$id in ({', '.join(str(i) for i in part)}) limit {READ_PAGE}"
            records, _ = self.kintone.get_records(self.app, query, self.read_fields)
            for record in records:
                found[int(record["$id"]["value"])] = record
        return found

    def _write_chunk(self, chunk: list[PlannedWrite]) -> ChunkResult:
        """Send one chunk, re-reading and re-deciding its records after a conflict."""
        result = ChunkResult()
        pending = chunk
        conflicts: Counter = Counter()
        lost_answer_retried = False
        for _round in range(MAX_ROUNDS):
            if not pending:
                return result
            try:
                result.calls += 1
                self.kintone.update_records(
                    self.app, [w.payload() for w in pending], max_in_flight=1
                )
            except KintoneError as error:
                lost = _may_have_applied(error)
                if not (_is_retriable(error) or (lost and not lost_answer_retried)):
                    raise
                lost_answer_retried = lost_answer_retried or lost
                before = len(pending)
                pending = self._redecide(pending, conflicts, result, count_conflicts=not lost)
                if not lost and len(pending) == before and not conflicts:
                    raise  # nothing changed in kintone: re-sending cannot help
                continue
            result.written.extend(pending)
            return result
        raise KintoneConflictError(
            "GAIA_CO02", "records kept changing while they were written", status=409
        )

    def _redecide(
        self,
        pending: list[PlannedWrite],
        conflicts: Counter,
        result: ChunkResult,
        *,
        count_conflicts: bool,
    ) -> list[PlannedWrite]:
        """The chunk's updates decided again from freshly read records."""
        fresh = self._reread([w.record_id for w in pending])
        result.calls += (len(pending) + READ_PAGE - 1) // READ_PAGE
        again: list[PlannedWrite] = []
        for write in pending:
            record = fresh.get(write.record_id)
            if record is None:
                result.vanished += 1
                continue
            revision = int(record["$revision"]["value"])
            if count_conflicts and revision != write.revision:
                conflicts[write.record_id] += 1
                if conflicts[write.record_id] > 1:
                    result.conflicted.append(write.record_id)
                    continue
            decision = self.decide(record)
            if decision.status == CHANGE and decision.write is not None:
                again.append(decision.write)
            else:
                result.redecided[decision.status] += 1
        return again
