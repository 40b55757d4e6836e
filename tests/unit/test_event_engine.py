"""The incremental-import engine: duplicate check, 2,000-record chunks, failures, watermarks."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.event_import.engine import (
    RECORDS_PER_CALL,
    Candidate,
    identity_key,
    import_candidates,
)

TOKYO = ZoneInfo("Asia/Tokyo")
BASE = dt.datetime(2024, 6, 1, 9, 0, tzinfo=TOKYO)


class FakeKintone:
    """Collects added chunks; fails the chunks whose number is in `fail` (1-based)."""

    def __init__(self, fail: set[int] | None = None, error: Exception | None = None):
        self.fail = fail or set()
        self.error = error or ValueError("refused")
        self.chunks: list[list[dict]] = []
        self.attempts = 0
        self._lock = threading.Lock()

    def add(self, records: list[dict]) -> None:
        with self._lock:
            self.attempts += 1
            number = self.attempts
        if number in self.fail:
            raise self.error
        with self._lock:
            self.chunks.append(records)

    @property
    def written(self) -> list[dict]:
        return [record for chunk in self.chunks for record in chunk]


def candidate(n: int, stream: int = 0, identity: str | None = None) -> Candidate:
    stamp = int((BASE + dt.timedelta(seconds=n)).timestamp())
    key = identity_key(("event", identity or str(n)))
    return Candidate(stream, stamp, key, {"n": {"value": str(n)}}, f"event {n}")


def test_identity_key_is_stable_and_distinguishes_values():
    assert identity_key(("a", 1, None)) == identity_key(("a", "1", ""))
    assert identity_key(("a", "b")) != identity_key(("ab", ""))
    assert len(identity_key(("x",))) == 16


def test_everything_new_is_written_in_chunks_of_two_thousand():
    kintone = FakeKintone()
    result = import_candidates(kintone.add, 1, (candidate(n) for n in range(4500)), Counter())
    assert result.ok
    assert [len(c) for c in sorted(kintone.chunks, key=len, reverse=True)] == [2000, 2000, 500]
    assert result.written == result.planned == 4500
    assert result.calls == 3 == -(-4500 // RECORDS_PER_CALL)
    tally = result.streams[0]
    first, last = tally.written_range(TOKYO)
    assert first == BASE and last == BASE + dt.timedelta(seconds=4499)
    assert tally.watermark(None, TOKYO) == BASE + dt.timedelta(seconds=4499)


def test_events_already_in_kintone_are_skipped_as_a_multiset():
    kintone = FakeKintone()
    twice = [candidate(1, identity="same"), candidate(2, identity="same"), candidate(3)]
    existing = Counter({identity_key(("event", "same")): 1, identity_key(("event", "gone")): 4})
    result = import_candidates(kintone.add, 1, twice, existing)
    assert [r["n"]["value"] for r in kintone.written] == ["2", "3"]
    assert result.streams[0].skipped == 1 and result.written == 2
    # The skipped event is in kintone: the watermark may pass it.
    assert result.streams[0].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=3)


def test_a_repeat_with_everything_imported_writes_nothing_and_keeps_the_watermark_moving():
    events = [candidate(n) for n in range(10)]
    existing = Counter(c.identity for c in events)
    kintone = FakeKintone()
    result = import_candidates(kintone.add, 1, events, existing)
    assert kintone.attempts == 0 and result.planned == 0 and result.written == 0
    assert result.streams[0].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=9)


def test_a_failed_chunk_keeps_earlier_chunks_and_holds_the_watermark_before_it():
    kintone = FakeKintone(fail={2})
    result = import_candidates(
        kintone.add, 1, (candidate(n) for n in range(5000)), Counter(), in_flight=1
    )
    assert not result.ok and isinstance(result.error, ValueError)
    assert result.written == 2000 and len(kintone.written) == 2000
    assert result.failed_count == 2000
    assert result.failed_records == ["event 2000", "event 2001", "event 2002"]
    # Nothing after the failure was sent.
    assert kintone.attempts == 2
    assert result.streams[0].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=1999)


def test_the_failing_record_is_named_when_kintone_says_which_one():
    error = ValueError("bad value")
    error.record_index = 7  # type: ignore[attr-defined]
    kintone = FakeKintone(fail={1}, error=error)
    result = import_candidates(kintone.add, 1, [candidate(n) for n in range(10)], Counter())
    assert result.failed_records == ["event 7"]
    assert result.streams[0].watermark(None, TOKYO) is None


def test_chunks_committed_out_of_order_never_let_the_watermark_pass_a_gap():
    release = threading.Event()
    calls: list[int] = []

    def add(records: list[dict]) -> None:
        first = int(records[0]["n"]["value"])
        calls.append(first)
        if first == 0:
            release.wait(5)  # the first chunk answers last
        if first == 2000:
            release.set()
            raise RuntimeError("chunk two refused")

    result = import_candidates(add, 1, (candidate(n) for n in range(6000)), Counter())
    assert isinstance(result.error, RuntimeError)
    written = result.streams[0]
    assert result.written == 4000  # chunks one and three
    assert written.watermark(None, TOKYO) == BASE + dt.timedelta(seconds=1999)


def test_a_read_failure_keeps_what_was_written_and_stops_at_the_last_event_read():
    kintone = FakeKintone()

    def events():
        for n in range(2500):
            yield candidate(n)
        raise ConnectionError("配配メール unreachable")

    result = import_candidates(kintone.add, 2, events(), Counter())
    assert isinstance(result.error, ConnectionError)
    assert result.written == 2000 and result.planned == 2500
    # 500 read but unsent; the watermark stays before the first of them.
    assert result.streams[0].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=1999)
    assert result.streams[1].watermark(BASE, TOKYO) == BASE  # never read: unchanged


def test_streams_keep_separate_watermarks():
    kintone = FakeKintone()
    mixed = [candidate(n, stream=n % 2) for n in range(10)]
    result = import_candidates(kintone.add, 2, mixed, Counter())
    assert result.streams[0].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=8)
    assert result.streams[1].watermark(None, TOKYO) == BASE + dt.timedelta(seconds=9)
    assert result.streams[0].written == result.streams[1].written == 5


def test_progress_reports_written_against_planned():
    seen: list[tuple[int, int]] = []
    import_candidates(
        FakeKintone().add,
        1,
        (candidate(n) for n in range(3000)),
        Counter(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (3000, 3000)
    assert all(done <= total for done, total in seen)
