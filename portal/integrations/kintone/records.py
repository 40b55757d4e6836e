"""Reading records: one page, one record, and every record of a query as a stream.

`iter_records` walks a query without `order by` by `$id` seek (two chains from both ends of the
id range meeting in the middle, no offset ever), and one with `order by` through a cursor. The
cursors a client opens are tracked so that closing the client, closing or dropping an iterator,
or kintone's per-domain cursor limit never leaves one behind.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from portal.integrations.kintone.errors import KintoneCursorLimitError, KintoneNotFoundError
from portal.integrations.kintone.query import (
    MAX_PAGE_SIZE,
    SplitQuery,
    record_id,
    seek_query,
    split_query,
)
from portal.integrations.kintone.transport import KintoneTransport, Safety

log = logging.getLogger("portal.integrations.kintone")


class RecordReads(KintoneTransport):
    """Record reads of `KintoneClient`, and the cursors they open."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._cursors: dict[str, _CursorHandle] = {}
        self._doomed: queue.SimpleQueue = queue.SimpleQueue()  # cursors of dropped iterators
        self._janitor: threading.Thread | None = None

    def close(self) -> None:
        """Delete this client's open cursors, then stop its threads and close its session."""
        if self._closed:
            return
        if self._janitor is not None:
            self._doomed.put(None)
            self._janitor.join(timeout=self.timeout * 2)
        for cursor_id, handle in list(self._cursors.items()):
            self._delete_cursor_quietly(cursor_id, handle.app)
        super().close()

    def get_record(self, app: int, record_id: int) -> dict[str, Any]:
        """One record by id (GET record.json)."""
        body = self.request("GET", "record", {"app": app, "id": record_id}, app=app)
        return body["record"]

    def get_records(
        self,
        app: int,
        query: str = "",
        fields: Sequence[str] | None = None,
        *,
        total_count: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of records (≤500, offset ≤10,000) and the total count when asked for."""
        params: dict[str, Any] = {"app": app, "query": query}
        if fields is not None:
            params["fields"] = list(fields)
        if total_count:
            params["totalCount"] = True
        body = self.request("GET", "records", params, app=app)
        total = body.get("totalCount")
        return body["records"], int(total) if total is not None else None

    def iter_records(
        self,
        app: int,
        query: str = "",
        fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        prefetch: bool = True,
        parallel: bool = True,
    ) -> RecordIterator:
        """Stream every record matching `query`: `$id` seek without `order by`, else a cursor.

        The iterator has `.total_count` (after the first page) and `.close()`; the cursor, when
        used, is deleted on exhaustion, on close, on error and when the iterator is dropped.
        Records always carry `$id` (it is added to `fields` for the seek). With `parallel` the
        seek reads from both ends of the `$id` range at once, so records come in no particular
        order; `parallel=False` yields them in ascending `$id` order. `prefetch` fetches the
        next page(s) in the background while the caller works on the current one.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        split = split_query(query)
        wanted = list(fields) if fields is not None else None
        return RecordIterator(
            self, app, split, wanted, page_size, prefetch=prefetch, parallel=parallel
        )

    def create_cursor(
        self, app: int, query: str = "", fields: Sequence[str] | None = None, size: int = 500
    ) -> tuple[str, int]:
        """Create a cursor (POST records/cursor.json) → (cursor id, total count)."""
        params: dict[str, Any] = {"app": app, "query": query, "size": size}
        if fields is not None:
            params["fields"] = list(fields)
        freed: list[int] = [0]

        def cursor_limit(error: BaseException) -> bool:
            # The refusal proves no cursor was made; make room among our own and try again.
            if isinstance(error, KintoneCursorLimitError):
                freed[0] += self.release_idle_cursors()
                return True
            return False

        body = self.request(
            "POST",
            "records/cursor",
            params,
            app=app,
            safety=Safety.ONCE,
            is_transient=cursor_limit,
        )
        return str(body["id"]), int(body.get("totalCount") or 0)

    def get_cursor_page(self, cursor_id: str, *, app: int | None = None) -> tuple[list, bool]:
        """Next page of a cursor → (records, next); never repeated after an ambiguous failure."""
        body = self.request("GET", "records/cursor", {"id": cursor_id}, app=app, safety=Safety.ONCE)
        return body["records"], bool(body.get("next"))

    def delete_cursor(self, cursor_id: str, *, app: int | None = None) -> None:
        """Delete a cursor; a cursor that is already gone (GAIA_CN01) counts as deleted."""
        try:
            self.request("DELETE", "records/cursor", {"id": cursor_id}, app=app)
        except KintoneNotFoundError:
            pass
        finally:
            with self._lock:
                self._cursors.pop(cursor_id, None)

    def release_idle_cursors(self) -> int:
        """Delete this client's cursors that no iterator is fetching from right now."""
        with self._lock:
            idle = [(cid, h) for cid, h in self._cursors.items() if not h.busy]
        for cursor_id, handle in idle:
            owner = handle.owner() if handle.owner else None
            if owner is not None:
                owner._released = True
                owner._cursor_id = None
            self._delete_cursor_quietly(cursor_id, handle.app)
        return len(idle)

    def _start_janitor(self) -> None:
        with self._lock:
            if self._janitor is None and not self._closed:
                self._janitor = threading.Thread(
                    target=self._sweep, name="kintone-cursor-janitor", daemon=True
                )
                self._janitor.start()

    def _sweep(self) -> None:
        """Delete the cursors of iterators that were dropped unfinished, until told to stop."""
        while True:
            item = self._doomed.get()
            if item is None:
                return
            self._delete_cursor_quietly(*item)

    def _delete_cursor_quietly(self, cursor_id: str, app: int | None) -> None:
        try:
            self.delete_cursor(cursor_id, app=app)
        except Exception as error:  # noqa: BLE001 - cleanup must not mask the caller's error
            log.warning("kintone_cursor_delete_failed cursor=%s error=%s", cursor_id, error)


@dataclass
class _CursorHandle:
    app: int
    owner: weakref.ref | None
    busy: bool = False


class RecordIterator(Iterator[dict[str, Any]]):
    """Iterator over every record of a query; one page in memory plus at most one prefetched."""

    def __init__(
        self,
        client: RecordReads,
        app: int,
        query: SplitQuery,
        fields: list[str] | None,
        page_size: int,
        *,
        prefetch: bool = True,
        parallel: bool = True,
    ):
        self._client = client
        self.app = app
        self._query = query
        self.mode = "cursor" if query.order_by else "seek"
        if fields is not None and self.mode == "seek" and "$id" not in fields:
            fields = [*fields, "$id"]
        self._fields = fields
        self._page_size = page_size
        self._prefetch = prefetch
        self._buffer: deque[dict[str, Any]] = deque()
        self._pending: Future | None = None
        self._started = False
        self._exhausted = False  # no further page will be fetched
        self._closed = False
        self._released = False
        self._total: int | None = None
        self._fetched = 0
        self._low = 0  # highest id taken by the ascending chain
        self._high: int | None = None  # lowest id taken by the descending chain
        self._parallel = parallel
        self._cursor_id: str | None = None
        self.calls = 0

    # -- public ----------------------------------------------------------------------------

    @property
    def total_count(self) -> int | None:
        """Number of matching records when iteration started (fetches the first page if needed)."""
        if not self._started and not self._closed:
            self._fill()
        return self._total

    def __iter__(self) -> RecordIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        while not self._buffer:
            if self._closed or (self._exhausted and self._pending is None):
                self.close()
                raise StopIteration
            self._fill()
        return self._buffer.popleft()

    def close(self) -> None:
        """Stop iterating: wait for an in-flight page and delete the cursor if one is open."""
        if self._closed:
            return
        self._closed = True
        pending, self._pending = self._pending, None
        if pending is not None and not pending.cancel():
            pending.exception()  # wait; its error does not matter any more
        self._buffer.clear()
        if self._cursor_id is not None:
            cursor_id, self._cursor_id = self._cursor_id, None
            self._client._delete_cursor_quietly(cursor_id, self.app)

    def __enter__(self) -> RecordIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The collector may run this in any thread, even one holding a lock the DELETE would
        # need, so hand the deletion to a worker instead of calling out from here. A fetch in
        # flight holds a reference to the iterator, so none can be running now. A finaliser
        # must never raise; the cursor expires on its own if this fails.
        with contextlib.suppress(Exception):
            self._closed = True
            if self._pending is not None:
                self._pending.cancel()
            cursor_id, self._cursor_id = self._cursor_id, None
            if cursor_id is not None:
                # SimpleQueue.put is safe to call from a finaliser (reentrant, no Python lock).
                self._client._doomed.put((cursor_id, self.app))

    # -- paging ----------------------------------------------------------------------------

    def _fill(self) -> None:
        """Move the next page into the buffer and start fetching the one after it."""
        try:
            if self._pending is not None:
                future, self._pending = self._pending, None
                records = future.result()
            else:
                records = self._fetch()
            self._started = True
            self._buffer.extend(records)
            if not self._exhausted and self._prefetch and not self._closed:
                self._pending = self._client._executor().submit(self._fetch)
        except BaseException:
            self.close()
            raise

    def _fetch(self) -> list[dict[str, Any]]:
        if self.mode == "seek":
            return self._fetch_seek()
        return self._fetch_cursor()

    def _fetch_seek(self) -> list[dict[str, Any]]:
        """One step of the seek: the lowest page, plus the highest page while much remains.

        Two exact `$id` chains (ascending from the bottom, descending from the top) meet in the
        middle, so no offset is ever used, no record can be skipped by concurrent deletes, and
        twice the pages are in flight. Calls stay within ⌈N/500⌉+1 when nothing changes.
        """
        size = self._page_size
        if not self._started and self._total is None:
            records, total = self._seek_page(self._low, None, descending=False, total=True)
            self._total = total or 0
            self._take_ascending(records)
            # The count taken with the first page ends an ascending-only walk exactly, sparing
            # an empty trailing call; new records (higher ids) would come after the old ones.
            if len(records) < size or self._fetched >= self._total:
                self._exhausted = True
            return records
        remaining = (self._total or 0) - self._fetched
        both = self._parallel and remaining > size
        future = None
        if both:
            future = self._client._reader().submit(
                self._seek_page, self._low, self._high, descending=True
            )
        try:
            ascending, _ = self._seek_page(self._low, self._high, descending=False)
        except BaseException:
            if future is not None:
                future.exception()  # do not leave the other request running unobserved
            raise
        descending = future.result()[0] if future is not None else None
        if descending is None:
            self._take_ascending(ascending)
            if (
                len(ascending) < size
                or (self._high is None and self._fetched >= self._total)
                or (self._high is not None and self._low + 1 >= self._high)
            ):
                self._exhausted = True
            return ascending
        if len(ascending) < size:
            # The ascending page holds everything left between the two frontiers.
            self._take_ascending(ascending)
            self._exhausted = True
            return ascending
        if len(descending) < size:
            self._take_descending(descending)
            self._exhausted = True
            return descending
        top_of_ascending = record_id(ascending[-1])
        if top_of_ascending >= record_id(descending[-1]):
            # The chains crossed: keep the descending records above the ascending page.
            rest = [r for r in descending if record_id(r) > top_of_ascending]
            self._take_ascending(ascending)
            self._fetched += len(rest)
            self._exhausted = True
            return ascending + rest
        self._take_ascending(ascending)
        self._take_descending(descending)
        if self._low + 1 >= self._high:
            self._exhausted = True
        return ascending + descending

    def _seek_page(
        self, after: int, before: int | None, *, descending: bool, total: bool = False
    ) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {
            "app": self.app,
            "query": seek_query(
                self._query.condition,
                after,
                self._page_size,
                before=before,
                descending=descending,
            ),
        }
        if self._fields is not None:
            params["fields"] = self._fields
        if total:
            params["totalCount"] = True
        body = self._client.request("GET", "records", params, app=self.app)
        with self._client._lock:
            self.calls += 1
        count = body.get("totalCount")
        return body["records"], int(count) if count is not None else None

    def _take_ascending(self, records: list[dict[str, Any]]) -> None:
        self._fetched += len(records)
        if records:
            self._low = record_id(records[-1])

    def _take_descending(self, records: list[dict[str, Any]]) -> None:
        self._fetched += len(records)
        if records:
            self._high = record_id(records[-1])

    def _fetch_cursor(self) -> list[dict[str, Any]]:
        client = self._client
        if self._cursor_id is None:
            if self._released:
                raise KintoneNotFoundError(
                    "GAIA_CN01", "the cursor was released to make room for another (GAIA_TM12)"
                )
            query = self._query.condition
            if query:
                query += " "
            query += self._query.order_by
            cursor_id, total = client.create_cursor(
                self.app, query, self._fields, size=self._page_size
            )
            self.calls += 1
            client._start_janitor()
            with client._lock:
                client._cursors[cursor_id] = _CursorHandle(self.app, weakref.ref(self))
            self._cursor_id = cursor_id
            self._total = total
        cursor_id = self._cursor_id
        handle = client._cursors.get(cursor_id)
        if handle is None or self._released:
            raise KintoneNotFoundError(
                "GAIA_CN01", "the cursor was released to make room for another (GAIA_TM12)"
            )
        handle.busy = True
        try:
            records, more = client.get_cursor_page(cursor_id, app=self.app)
            self.calls += 1
        finally:
            handle.busy = False
        self._fetched += len(records)
        if not more:
            # kintone deleted the cursor with its last page.
            self._exhausted = True
            self._cursor_id = None
            with client._lock:
                client._cursors.pop(cursor_id, None)
        return records
