"""The incremental-import engine shared by 顧客反応履歴情報取込連携 and Bridgeフォーム連携.

A process turns 配配メール events (or form answers) into `Candidate`s — the kintone record to
add, its stream (event type or form), its time and its identity — and says which identities
kintone already holds (`existing`, a multiset). The engine skips a candidate while kintone
holds one more copy of its identity than it has matched, writes the rest 2,000 records per
bulkRequest (a few chunks in flight while the next events are read), and works out per stream
how far the watermark may move: only over events that are in kintone afterwards.

A failure (a chunk kintone refuses, 配配メール refusing a page, a budget) stops reading and
sending; chunks already sent are waited for, and what they committed stays committed and
counts for the watermark. The result carries the failure for the caller to report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.haihai_kintone.event_import.window import advanced_watermark

log = logging.getLogger(__name__)

RECORDS_PER_CALL = 2000  # one bulkRequest: 20 requests of 100 records
MAX_IN_FLIGHT = 3
PROGRESS_EVERY = 1000  # candidates read between progress reports


def identity_key(values: Sequence[Hashable]) -> bytes:
    """A compact, stable key for a tuple of field values (16 bytes of BLAKE2b)."""
    text = "\x1f".join(v if isinstance(v, str) else ("" if v is None else str(v)) for v in values)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


@dataclass(slots=True)
class Candidate:
    """One event ready to be added to kintone."""

    stream: int  # index of its stream in the run's list
    stamp: int  # event time as Unix seconds
    identity: bytes  # same value for the same event read again (see identity_key)
    record: dict[str, Any]  # kintone write format
    describe: str  # how messages name it, e.g. 「メール開封 2024-06-01 10:00:00 a@example.jp」


@dataclass
class StreamTally:
    """What the engine saw of one stream."""

    read: int = 0
    skipped: int = 0  # already in kintone
    written: int = 0
    first_stamp: int | None = None  # oldest event written (Unix seconds)
    last_stamp: int | None = None  # newest event written
    in_kintone: array = field(default_factory=lambda: array("q"))  # Unix seconds
    not_written_min: int | None = None  # earliest event meant to be written but not written
    last_read: int | None = None  # Unix seconds of the newest event read
    interrupted: bool = False  # reading stopped inside this stream

    def written_range(self, tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(oldest, newest) event written, as datetimes in `tz`."""
        if self.first_stamp is None or self.last_stamp is None:
            return None, None
        return (
            dt.datetime.fromtimestamp(self.first_stamp, tz),
            dt.datetime.fromtimestamp(self.last_stamp, tz),
        )

    def _note_written(self, stamp: int) -> None:
        self.written += 1
        self.in_kintone.append(stamp)
        if self.first_stamp is None or stamp < self.first_stamp:
            self.first_stamp = stamp
        if self.last_stamp is None or stamp > self.last_stamp:
            self.last_stamp = stamp

    def _note_not_written(self, stamp: int) -> None:
        if self.not_written_min is None or stamp < self.not_written_min:
            self.not_written_min = stamp

    def watermark(self, previous: dt.datetime | None, tz: dt.tzinfo) -> dt.datetime | None:
        """The stream's watermark after the run (see window.advanced_watermark)."""
        barriers = []
        if self.not_written_min is not None:
            barriers.append(self.not_written_min)
        if self.interrupted and self.last_read is not None:
            # Events are read oldest first: unread ones are not older than the last one read.
            barriers.append(self.last_read)
        times = (dt.datetime.fromtimestamp(t, tz) for t in self.in_kintone)
        blocked = (dt.datetime.fromtimestamp(t, tz) for t in barriers)
        return advanced_watermark(previous, times, blocked)


@dataclass
class ImportResult:
    """The outcome of one engine run (complete or stopped by `error`)."""

    streams: list[StreamTally]
    written: int = 0
    planned: int = 0  # candidates that had to be written (written + failed + unsent)
    error: BaseException | None = None
    failed_records: list[str] = field(default_factory=list)  # descriptions, first chunk only
    failed_count: int = 0
    calls: int = 0

    @property
    def ok(self) -> bool:
        """True when every candidate that had to be written was written."""
        return self.error is None


@dataclass
class _Chunk:
    items: list[Candidate]


class _Writer:
    """Sends chunks with at most `in_flight` bulkRequests outstanding; records what committed."""

    def __init__(
        self,
        add: Callable[[list[dict[str, Any]]], Any],
        result: ImportResult,
        in_flight: int,
        progress: Callable[[], None],
    ):
        self._add = add
        self._result = result
        self._limit = in_flight
        self._progress = progress
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="event-import")
        self._pending: dict[Future, _Chunk] = {}

    def submit(self, chunk: _Chunk) -> None:
        while len(self._pending) >= self._limit:
            self._settle(wait(list(self._pending), return_when=FIRST_COMPLETED)[0])
        if self._result.error is not None:
            self.abandon(chunk.items)
            return
        records = [item.record for item in chunk.items]
        self._pending[self._pool.submit(self._add, records)] = chunk

    def abandon(self, items: Iterable[Candidate]) -> None:
        """Candidates that will not be sent (after a failure)."""
        for item in items:
            self._result.streams[item.stream]._note_not_written(item.stamp)

    def finish(self) -> None:
        """Wait for every chunk already sent (their outcome is always recorded)."""
        try:
            while self._pending:
                self._settle(list(self._pending))
        finally:
            self._pool.shutdown(wait=True)

    def _settle(self, futures: Iterable[Future]) -> None:
        for future in futures:
            chunk = self._pending.pop(future)
            self._result.calls += 1
            error = future.exception()
            if error is None:
                for item in chunk.items:
                    self._result.streams[item.stream]._note_written(item.stamp)
                self._result.written += len(chunk.items)
            else:
                self.abandon(chunk.items)
                self._record_failure(chunk, error)
            self._progress()

    def _record_failure(self, chunk: _Chunk, error: BaseException) -> None:
        if self._result.error is not None:
            return  # the first failure is the one reported
        self._result.error = error
        self._result.failed_count = len(chunk.items)
        index = getattr(error, "record_index", None)
        if isinstance(index, int) and 0 <= index < len(chunk.items):
            self._result.failed_records = [chunk.items[index].describe]
        else:
            self._result.failed_records = [item.describe for item in chunk.items[:3]]


def import_candidates(
    add_records: Callable[[list[dict[str, Any]]], Any],
    streams: int,
    candidates: Iterable[Candidate],
    existing: Counter[bytes],
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = RECORDS_PER_CALL,
    in_flight: int = MAX_IN_FLIGHT,
) -> ImportResult:
    """Write every candidate kintone does not hold yet; see the module docstring.

    `add_records(records)` adds one chunk (one bulkRequest) and raises on failure. `existing`
    is consumed. Never raises for a failure of the reading or the writing: it is in
    `result.error` together with everything that was committed before it.
    """
    result = ImportResult(streams=[StreamTally() for _ in range(streams)])

    def report() -> None:
        if progress is not None:
            progress(result.written, result.planned)

    writer = _Writer(add_records, result, in_flight, report)
    chunk: list[Candidate] = []
    current: Candidate | None = None
    iterator: Iterator[Candidate] = iter(candidates)
    try:
        while result.error is None:
            try:
                current = next(iterator, None)
            except Exception as error:  # noqa: BLE001 - reading failed: report, keep what committed
                result.error = error
                if current is not None:
                    result.streams[current.stream].interrupted = True
                break
            if current is None:
                break
            tally = result.streams[current.stream]
            tally.read += 1
            tally.last_read = current.stamp
            if existing and existing[current.identity] > 0:
                existing[current.identity] -= 1
                tally.skipped += 1
                tally.in_kintone.append(current.stamp)
                continue
            result.planned += 1
            chunk.append(current)
            if len(chunk) >= chunk_size:
                writer.submit(_Chunk(chunk))
                chunk = []
            if result.planned % PROGRESS_EVERY == 0:
                report()
        if result.error is None and chunk:
            writer.submit(_Chunk(chunk))
        else:
            writer.abandon(chunk)
            if result.error is not None and current is not None:
                result.streams[current.stream].interrupted = True
    finally:
        writer.finish()
    report()
    if result.error is not None:
        log.info(
            "event import stopped written=%s planned=%s error=%s",
            result.written,
            result.planned,
            type(result.error).__name__,
        )
    return result
