"""Writing records: add, update, upsert and delete any number, 2,000 per bulkRequest.

Chunks of 2,000 records go out as bulkRequest calls, up to `max_in_flight` at once; their
answers are put back in input order. A failing chunk stops the sending of further chunks, the
ones already sent are allowed to finish, and the error raised names the first failing record in
the caller's input and carries a `WriteReport` of what was committed.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from portal.integrations.kintone.errors import FieldError, KintoneError, WriteReport
from portal.integrations.kintone.query import RECORDS_PER_BULK, RECORDS_PER_REQUEST
from portal.integrations.kintone.transport import KintoneTransport, Safety

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class WriteResult:
    """Outcome of a multi-chunk write; ids/revisions in input order (compact int arrays)."""

    count: int = 0
    calls: int = 0
    ids: array = field(default_factory=lambda: array("q"))
    revisions: array = field(default_factory=lambda: array("q"))
    operations: list[str] = field(default_factory=list)  # upsert only: INSERT / UPDATE


@dataclass
class _Chunk:
    start: int
    items: list[Any]


class RecordWrites(KintoneTransport):
    """Record writes of `KintoneClient`."""

    def add_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: ProgressCallback | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Add any number of records (2,000 per bulkRequest); ids come back in input order."""

        def payloads(items: list[Any]) -> list[dict[str, Any]]:
            return [{"app": app, "records": list(part)} for part in _parts(items)]

        def collect(result: WriteResult, items: list[Any], answers: list[dict]) -> None:
            for answer in answers:
                result.ids.extend(int(i) for i in answer["ids"])
                result.revisions.extend(int(r) for r in answer["revisions"])

        return self._bulk_write(
            app,
            records,
            "POST",
            payloads,
            collect,
            repeatable=lambda items: False,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
        )

    def update_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: ProgressCallback | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Update records given as `{"id"|"updateKey": …, "record": {…}, "revision"?: n}`."""
        return self._put_records(app, records, False, on_progress, max_in_flight)

    def upsert_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: ProgressCallback | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Insert-or-update (PUT records.json with upsert); `operations` tells which happened."""
        return self._put_records(app, records, True, on_progress, max_in_flight)

    def _put_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        upsert: bool,
        on_progress: ProgressCallback | None,
        max_in_flight: int,
    ) -> WriteResult:
        def check(item: Mapping[str, Any]) -> Mapping[str, Any]:
            if ("id" in item) == ("updateKey" in item):
                raise ValueError("each record needs exactly one of 'id' and 'updateKey'")
            return item

        def payloads(items: list[Any]) -> list[dict[str, Any]]:
            out = []
            for part in _parts(items):
                payload: dict[str, Any] = {"app": app, "records": [check(i) for i in part]}
                if upsert:
                    payload["upsert"] = True
                out.append(payload)
            return out

        def collect(result: WriteResult, items: list[Any], answers: list[dict]) -> None:
            for answer in answers:
                for row in answer["records"]:
                    result.ids.append(int(row["id"]))
                    result.revisions.append(int(row["revision"]))
                    if upsert:
                        result.operations.append(
                            "INSERT" if row.get("operation") == "INSERT" else "UPDATE"
                        )

        def repeatable(items: list[Any]) -> bool:
            # Same values twice give the same data; a revision check or an upsert by id
            # (which inserts under a new id) would not.
            for item in items:
                if item.get("revision") not in (None, -1, "-1"):
                    return False
                if upsert and "updateKey" not in item:
                    return False
            return True

        return self._bulk_write(
            app,
            records,
            "PUT",
            payloads,
            collect,
            repeatable=repeatable,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
        )

    def delete_records(
        self,
        app: int,
        ids: Iterable[int],
        revisions: Iterable[int] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Delete records by id (optionally checking revisions; -1 skips a check)."""
        if revisions is None:
            items: Iterable[Any] = ({"id": int(i)} for i in ids)
        else:
            id_list, rev_list = list(ids), list(revisions)
            if len(id_list) != len(rev_list):
                raise ValueError("ids and revisions must have the same length")
            items = (
                {"id": int(i), "revision": int(r)} for i, r in zip(id_list, rev_list, strict=True)
            )
        total = len(ids) if isinstance(ids, Sequence) else None

        def payloads(chunk: list[Any]) -> list[dict[str, Any]]:
            out = []
            for part in _parts(chunk):
                payload: dict[str, Any] = {"app": app, "ids": [i["id"] for i in part]}
                if revisions is not None:
                    payload["revisions"] = [i["revision"] for i in part]
                out.append(payload)
            return out

        def collect(result: WriteResult, chunk: list[Any], answers: list[dict]) -> None:
            result.ids.extend(i["id"] for i in chunk)

        return self._bulk_write(
            app,
            items,
            "DELETE",
            payloads,
            collect,
            repeatable=lambda chunk: False,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
            total=total,
        )

    def _bulk_write(
        self,
        app: int,
        items: Iterable[Any],
        method: str,
        payloads: Callable[[list[Any]], list[dict[str, Any]]],
        collect: Callable[[WriteResult, list[Any], list[dict]], None],
        *,
        repeatable: Callable[[list[Any]], bool],
        on_progress: ProgressCallback | None,
        max_in_flight: int,
        total: int | None = None,
    ) -> WriteResult:
        if total is None and isinstance(items, Sequence):
            total = len(items)
        write = _BulkWrite(self, app, method, payloads, collect, repeatable, on_progress, total)
        pool = self._executor() if max_in_flight > 1 else None
        return write.run(items, pool, max_in_flight)


class _BulkWrite:
    """One multi-chunk write in progress: what is in flight, finished, committed and failed."""

    def __init__(
        self,
        client: KintoneTransport,
        app: int,
        method: str,
        payloads: Callable[[list[Any]], list[dict[str, Any]]],
        collect: Callable[[WriteResult, list[Any], list[dict]], None],
        repeatable: Callable[[list[Any]], bool],
        on_progress: ProgressCallback | None,
        total: int | None,
    ):
        self.client = client
        self.app = app
        self.method = method
        self.payloads = payloads
        self.collect = collect
        self.repeatable = repeatable
        self.on_progress = on_progress
        self.api = client.api_path("records")
        self.report = WriteReport(total=total)
        self.result = WriteResult()
        # Chunks may finish out of order; keep answers until every earlier chunk has arrived.
        self.finished: dict[int, tuple[_Chunk, list[dict]]] = {}
        self.next_start = 0
        self.failures: list[tuple[_Chunk, BaseException]] = []
        self.in_flight: dict[Future, _Chunk] = {}

    def send(self, chunk: _Chunk) -> list[dict]:
        """Send one chunk as a bulkRequest → its per-request answers."""
        requests_ = [
            {"method": self.method, "api": self.api, "payload": payload}
            for payload in self.payloads(chunk.items)
        ]
        safety = Safety.REPEATABLE if self.repeatable(chunk.items) else Safety.ONCE
        body = self.client.request(
            "POST", "bulkRequest", {"requests": requests_}, app=self.app, safety=safety
        )
        return body["results"]

    def settle(self, future: Future) -> None:
        """Account for a finished chunk; collect answers in input order."""
        chunk = self.in_flight.pop(future)
        report = self.report
        report.calls += 1
        try:
            answers = future.result()
        except BaseException as error:  # noqa: BLE001 - reported after the others settle
            self.failures.append((chunk, error))
            report.failed.append((chunk.start, chunk.start + len(chunk.items)))
            return
        report.committed.append((chunk.start, chunk.start + len(chunk.items)))
        report.done += len(chunk.items)
        self.finished[chunk.start] = (chunk, answers)
        while self.next_start in self.finished:
            done_chunk, done_answers = self.finished.pop(self.next_start)
            self.collect(self.result, done_chunk.items, done_answers)
            self.next_start += len(done_chunk.items)
        if self.on_progress is not None:
            self.on_progress(report.done, report.total)

    def _send_inline(self, chunk: _Chunk) -> None:
        future: Future = Future()
        try:
            future.set_result(self.send(chunk))
        except BaseException as error:  # noqa: BLE001 - settled like a pooled failure
            future.set_exception(error)
        self.in_flight[future] = chunk
        self.settle(future)

    def run(
        self, items: Iterable[Any], pool: ThreadPoolExecutor | None, max_in_flight: int
    ) -> WriteResult:
        """Send every chunk (in a pool when given); raise the first failing chunk's error."""
        report = self.report
        try:
            chunks = _chunks(items, RECORDS_PER_BULK)
            for chunk in chunks:
                if pool is None:
                    self._send_inline(chunk)
                else:
                    while len(self.in_flight) >= max_in_flight:
                        done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
                        for item in done:
                            self.settle(item)
                    if self.failures:
                        report.stopped_early = True
                        break
                    self.in_flight[pool.submit(self.send, chunk)] = chunk
                report.sent_until = chunk.start + len(chunk.items)
                if self.failures:
                    report.stopped_early = next(chunks, None) is not None
                    break
        finally:
            # Let every request already sent finish so the report says what was committed.
            for future in list(self.in_flight):
                future.exception()
                self.settle(future)
        self.result.count = report.done
        self.result.calls = report.calls
        if self.failures:
            raise self._first_failure()
        return self.result

    def _first_failure(self) -> BaseException:
        chunk, error = min(self.failures, key=lambda f: f[0].start)
        if isinstance(error, KintoneError):
            report = self.report
            locate_write_error(error, chunk)
            error.write_report = report
            error.context = (
                f"bulk {self.method} app={self.app}: records #{chunk.start}-"
                f"#{chunk.start + len(chunk.items) - 1} were not written (a bulk request is "
                f"all or nothing); committed: {report.committed_ranges_text()}"
            )
            if report.stopped_early:
                error.context += f"; records from #{report.sent_until} on were not sent"
        return error


def _chunks(items: Iterable[Any], size: int) -> Iterator[_Chunk]:
    chunk: list[Any] = []
    start = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield _Chunk(start, chunk)
            start += size
            chunk = []
    if chunk:
        yield _Chunk(start, chunk)


def _parts(items: list[Any]) -> Iterator[list[Any]]:
    for offset in range(0, len(items), RECORDS_PER_REQUEST):
        yield items[offset : offset + RECORDS_PER_REQUEST]


_ID_IN_MESSAGE_RE = re.compile(r"\d+")


def locate_write_error(error: KintoneError, chunk: _Chunk) -> None:
    """Rewrite request-relative record indexes of `error` into input indexes with id/updateKey."""
    part = error.bulk_index or 0
    base = chunk.start + part * RECORDS_PER_REQUEST
    items = chunk.items[part * RECORDS_PER_REQUEST : (part + 1) * RECORDS_PER_REQUEST]
    located = []
    for err in error.field_errors:
        if err.record_index is None or err.record_index >= len(items):
            located.append(err)
            continue
        item = items[err.record_index]
        located.append(
            FieldError(
                key=err.key,
                messages=err.messages,
                field_code=err.field_code,
                record_index=base + err.record_index,
                record_id=_item_id(item),
                update_key=item.get("updateKey") if isinstance(item, Mapping) else None,
                subtable_row=err.subtable_row,
                inner_field_code=err.inner_field_code,
            )
        )
    if not located and error.code in ("GAIA_RE01", "GAIA_CO02"):
        # These name the record only in the (localised) message; match its number to an input id.
        numbers = {int(n) for n in _ID_IN_MESSAGE_RE.findall(error.message)}
        for offset, item in enumerate(items):
            record_id = _item_id(item)
            if record_id is not None and record_id in numbers:
                located.append(
                    FieldError(
                        key="id",
                        messages=(error.message,),
                        record_index=base + offset,
                        record_id=record_id,
                    )
                )
                break
    error.field_errors = located


def _item_id(item: Any) -> int | None:
    if isinstance(item, Mapping) and item.get("id") is not None:
        try:
            return int(item["id"])
        except (TypeError, ValueError):
            return None
    return None
