"""Reading kintone records in k `$id` partitions at once (k = `KINTONE_READ_PARTITIONS`, 4).

kintone answers a page in 100–300 ms, so a lone seek over a large app is latency-bound. This
reader splits the app's `$id` span into partitions and seeks them concurrently:

1. In parallel, two calls: the first page (`$id > 0 … order by $id asc limit 500`, the lowest
   ids) and a probe (`… order by $id desc limit 1`, with `totalCount`) giving the total and the
   highest id.
2. The ids after the first page up to the highest id are split into `partitions` ranges (sizes
   in whole pages of ids); each is sought in its own thread, with `$id` bounds in the query
   (deletions, inserts or updates during the read cannot make a seek skip or repeat a record,
   unlike offsets; records added during the read get higher ids and are left for the next run).
3. Pages are handed over through a small bounded queue: a partition whose page finds the queue
   full waits (back-pressure), so memory holds a few pages whatever the app size; rows come
   out interleaved (配配メール and kintone writes do not care).
4. A partition that finishes while another range still holds at least SPLIT_PAGES pages (by
   the density that range showed so far) takes over its upper half, at most k times a read: ids
   deleted in bulk in one region (old customers purged) do not leave partitions idle. A page in
   flight while its range was cut keeps only the ids up to the new bound.

Calls: a partition stops at a short page or at a page ending on its upper bound; without a
condition, also after a full page when the others are finished and together they reached the
probe's total (with a condition, updates during the read may change which records match, so
the total proves nothing). Dense ids: ⌈N/500⌉ + 1 for any number of partitions; where deleted
records leave gaps each partition, and each take-over, may add one call.

Every request of a run's client holds a slot of its kintone domain while it is on the wire
(`portal.syncs.clients`, `portal.domain_slots`), so k partitions of many runs never exceed the
deployment's per-domain cap; k itself is never above that cap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from portal.integrations.kintone import split_query
from portal.syncs.context import current_run

PAGE_SIZE = 500
SPLIT_PAGES = 4  # a finished partition takes half of a range with at least this many pages left
DEFAULT_PARTITIONS = 4
MAX_PARTITIONS = 16  # the client's connection pool keeps 16 connections
DEFAULT_DOMAIN_CONCURRENCY = 20  # of kintone's 100 concurrent requests per domain
_DONE = object()


class PagedKintone(Protocol):
    """What the reader needs from KintoneClient."""

    def get_records(
        self,
        app: int,
        query: str = "",
        fields: Sequence[str] | None = None,
        *,
        total_count: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]: ...


@dataclass
class _Range:
    """The ids (after, upto] one partition still has to seek."""

    after: int
    upto: int
    fetched: int = 0  # records found so far
    start: int = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.after

    def density(self) -> float:
        """Records per id so far (1.0 before the first page: assume dense)."""
        covered = self.after - self.start
        return self.fetched / covered if covered > 0 and self.fetched else 1.0


def _record_id(record: dict[str, Any]) -> int:
    return int(record["$id"]["value"])


def _range_query(condition: str, after: int, upto: int | None, descending: bool = False) -> str:
    bounds = [f"$id > {after}"]
    if upto is not None:
        bounds.append(f"$id <= {upto}")
    head = " and ".join(bounds)
    if condition:
        head = f"{head} and ({condition})"
    order = "desc" if descending else "asc"
    return f"{head} order by $id {order} limit {PAGE_SIZE}"


def _setting(config: Mapping[str, Any], key: str, default: int) -> int:
    try:
        value = int(config.get(key) or default)
    except (TypeError, ValueError):
        return default
    return max(1, value)


def domain_concurrency(config: Mapping[str, Any]) -> int:
    """Requests one kintone domain may have in flight across the deployment (app config
    `KINTONE_DOMAIN_CONCURRENCY`, default 20)."""
    return _setting(config, "KINTONE_DOMAIN_CONCURRENCY", DEFAULT_DOMAIN_CONCURRENCY)


def read_partitions(config: Mapping[str, Any] | None = None) -> int:
    """Partitions of one read: `KINTONE_READ_PARTITIONS` (default 4) of `config` or of the
    active run's app config, never above the per-domain cap nor MAX_PARTITIONS."""
    if config is None:
        run = current_run()
        config = run.app_config if run is not None else {}
    wanted = _setting(config, "KINTONE_READ_PARTITIONS", DEFAULT_PARTITIONS)
    return min(wanted, domain_concurrency(config), MAX_PARTITIONS)


class ParallelRecordReader(Iterator[dict[str, Any]]):
    """Every record matching `condition` (no order by / limit), read by `partitions` seeks.

    `total_count` is known after construction starts reading (first access); `calls` counts
    the requests made; `close()` stops the threads (also on errors and exhaustion).
    """

    def __init__(
        self,
        client: PagedKintone,
        app: int,
        condition: str,
        fields: Sequence[str] | None,
        *,
        partitions: int = DEFAULT_PARTITIONS,
    ):
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.client = client
        self.app = app
        self.condition = condition
        self.fields = None if fields is None else list(dict.fromkeys([*fields, "$id"]))
        self.partitions = partitions
        self.calls = 0
        self._lock = threading.Lock()
        # Back-pressure: at most this many pages wait for the consumer (plus one per partition
        # in the hands of its thread).
        self._pages: queue.Queue = queue.Queue(maxsize=max(4, partitions + 2))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._buffer: list[dict[str, Any]] = []
        self._position = 0
        self._streams_left = 0  # partitions the consumer still waits for
        self._streams_running = 0  # partitions still fetching
        self._fetched = 0
        self._ranges: list[_Range] = []  # ranges still being sought
        self._splits_left = partitions  # ranges split for partitions that finished early
        self._total: int | None = None
        self._started = False
        self._closed = False

    # -- public ----------------------------------------------------------------------------

    @property
    def total_count(self) -> int | None:
        """Matching records when the read started."""
        if not self._started:
            self._start()
        return self._total

    def __iter__(self) -> ParallelRecordReader:
        return self

    def __next__(self) -> dict[str, Any]:
        if not self._started:
            self._start()
        while self._position >= len(self._buffer):
            if self._streams_left == 0 or self._closed:
                self.close()
                raise StopIteration
            item = self._pages.get()
            if item is _DONE:
                self._streams_left -= 1
                continue
            if isinstance(item, BaseException):
                self.close()
                raise item
            self._buffer = item
            self._position = 0
        record = self._buffer[self._position]
        self._position += 1
        return record

    def close(self) -> None:
        """Stop the partitions and wait for their threads."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for thread in self._threads:
            # A producer notices the stop within 0.1 s, or after its request in flight.
            thread.join()
        self._buffer = []

    def __enter__(self) -> ParallelRecordReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def _get(self, query: str, *, total: bool = False, fields=None) -> tuple[list, int | None]:
        records, count = self.client.get_records(
            self.app, query, self.fields if fields is None else fields, total_count=total
        )
        with self._lock:
            self.calls += 1
        return records, count

    def _start(self) -> None:
        """The first page and the probe in parallel, then one thread per partition."""
        self._started = True
        probe: dict[str, Any] = {}

        def run_probe() -> None:
            try:
                probe["result"] = self._get(
                    _range_query(self.condition, 0, None, descending=True).replace(
                        f"limit {PAGE_SIZE}", "limit 1"
                    ),
                    total=True,
                    fields=["$id"],
                )
            except BaseException as error:  # noqa: BLE001 - handed to the caller below
                probe["error"] = error

        prober = threading.Thread(target=run_probe, name="kintone-probe", daemon=True)
        prober.start()
        try:
            first, _ = self._get(_range_query(self.condition, 0, None))
        finally:
            prober.join()
        if "error" in probe:
            raise probe["error"]
        newest, total = probe["result"]
        self._total = int(total or 0)
        self._fetched = len(first)
        self._buffer = first
        self._position = 0
        if len(first) < PAGE_SIZE or not newest:
            return  # everything is in the first page
        after = _record_id(first[-1])
        highest = _record_id(newest[0])
        if highest <= after:
            return  # the first page reached the highest id
        ranges = split_ranges(after, highest, self.partitions)
        self._streams_left = self._streams_running = len(ranges)
        self._ranges = [_Range(low, high) for low, high in ranges]
        for index, part in enumerate(list(self._ranges)):
            thread = threading.Thread(
                target=self._stream, args=(part,), name=f"kintone-range-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _stream(self, part: _Range) -> None:
        """Seek `part` page by page into the queue, then ranges taken from the others;
        _DONE or the error at the end."""
        try:
            while part is not None and not self._stop.is_set():
                with self._lock:
                    after, upto = part.after, part.upto
                records, _ = self._get(_range_query(self.condition, after, upto))
                with self._lock:
                    records, ended = self._advance(part, records, upto)
                    if ended:
                        self._ranges.remove(part)
                        part = self._take_over()
                if records:
                    self._put(records)
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
            self._finished()
            self._put(error)
            return
        self._finished()
        self._put(_DONE)

    def _advance(self, part: _Range, records: list, asked_upto: int) -> tuple[list, bool]:
        """(Under the lock.) Record a page of `part`; the records to hand over and whether the
        range is finished."""
        full = len(records) >= PAGE_SIZE
        cut = False
        if part.upto < asked_upto:
            # Another partition took the top of this range while the page was on its way: the
            # records above the new bound are its; a page reaching past the bound holds every
            # record up to it.
            kept = [record for record in records if _record_id(record) <= part.upto]
            cut = len(kept) < len(records)
            records = kept
        if records:
            part.after = _record_id(records[-1])
        part.fetched += len(records)
        self._fetched += len(records)
        # A full page normally needs one more call to see the end; skip it when the others
        # are finished and together they reached the total (only without a condition:
        # updates may change which records match).
        everything = (
            not self.condition
            and self._streams_running == 1
            and self._fetched >= (self._total or 0)
        )
        # A page ending on the upper bound leaves nothing else in the range.
        return records, not full or cut or everything or part.after >= part.upto

    def _take_over(self) -> _Range | None:
        """(Under the lock.) The upper half of the running range with the most records left,
        for a partition that finished its own; None when none is worth a split."""
        if self._splits_left <= 0 or self._stop.is_set() or not self._ranges:
            return None
        victim = max(self._ranges, key=lambda r: (r.upto - r.after) * r.density())
        span = victim.upto - victim.after
        # Worth it when each half still holds a few pages; halves in whole pages of ids, so
        # dense ids keep ending every page on a bound (no extra call).
        if span * victim.density() < SPLIT_PAGES * PAGE_SIZE:
            return None
        half = span // 2 // PAGE_SIZE * PAGE_SIZE
        if half < PAGE_SIZE:
            return None
        taken = _Range(victim.after + half, victim.upto, 0)
        victim.upto = taken.after
        self._ranges.append(taken)
        self._splits_left -= 1
        return taken

    def _finished(self) -> None:
        with self._lock:
            self._streams_running -= 1

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def split_ranges(after: int, highest: int, partitions: int) -> list[tuple[int, int]]:
    """(after, highest] cut into at most `partitions` ranges (low, high] of whole pages of ids."""
    span = highest - after
    if span <= 0:
        return []
    step = max(PAGE_SIZE, -(-span // (partitions * PAGE_SIZE)) * PAGE_SIZE)
    bounds = list(range(after, highest, step)) + [highest]
    return list(zip(bounds, bounds[1:], strict=False))


def read_records(
    client: Any,
    app: int,
    query: str,
    fields: Sequence[str] | None,
    *,
    parallel: bool = True,
    partitions: int | None = None,
):
    """Records of `query` as an iterator with `total_count` and `close()`.

    Without `order by` (and with a client that can fetch single pages) the partitioned reader
    is used, with `partitions` ranges (None: `read_partitions()` of the active run's config);
    otherwise the client's own `iter_records` (seek, or cursor for a sort order).
    """
    split = split_query(query)  # ValueError for limit/offset
    if parallel and not split.order_by and hasattr(client, "get_records"):
        count = read_partitions() if partitions is None else partitions
        return ParallelRecordReader(client, app, split.condition, fields, partitions=count)
    return client.iter_records(app, query, fields=list(fields) if fields is not None else None)
