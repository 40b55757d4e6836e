"""The partitioned `$id` reader: every record exactly once, few calls, whatever the id layout."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import threading
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.integrations.kintone import KintoneValidationError
from portal.syncs.context import RunContext
from portal.syncs.record_read import (
    ParallelRecordReader,
    domain_concurrency,
    read_partitions,
    read_records,
    split_ranges,
)

_QUERY = re.compile(
    r"\$id > (?P<after>\d+)(?: and \$id <= (?P<upto>\d+))?(?: and \((?P<cond>.*)\))?"
    r" order by \$id (?P<order>asc|desc) limit (?P<limit>\d+)"
)


class PagedApp:
    """kintone's records.json for the reader's query shapes over a fixed set of ids.

    A condition `even` keeps even ids only; any other condition is refused like kintone does.
    """

    def __init__(self, ids):
        self.ids = sorted(ids)
        self.calls = 0
        self.lock = threading.Lock()

    def get_records(self, app, query, fields=None, *, total_count=False):
        with self.lock:
            self.calls += 1
        match = _QUERY.fullmatch(query)
        assert match, query
        if match["cond"] not in (None, "even"):
            raise KintoneValidationError("GAIA_IQ11", "Specified field (x) not found.")
        ids = [i for i in self.ids if match["cond"] is None or i % 2 == 0]
        total = len(ids)
        upto = int(match["upto"]) if match["upto"] else math.inf
        chosen = [i for i in ids if int(match["after"]) < i <= upto]
        if match["order"] == "desc":
            chosen.reverse()
        page = chosen[: int(match["limit"])]
        records = [{"$id": {"type": "__ID__", "value": str(i)}} for i in page]
        return records, (total if total_count else None)


def read_all(
    app: PagedApp, condition: str = "", partitions: int = 2
) -> tuple[list[int], int | None]:
    reader = ParallelRecordReader(app, 1, condition, ["mail"], partitions=partitions)
    total = reader.total_count
    ids = [int(record["$id"]["value"]) for record in reader]
    return ids, total


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=5000), max_size=2600))
def test_every_record_once_and_at_most_two_calls_more_than_the_pages(ids):
    app = PagedApp(ids)
    got, total = read_all(app)
    assert sorted(got) == sorted(ids)
    assert total == len(ids)
    assert app.calls <= math.ceil(len(ids) / 500) + 2


@pytest.mark.parametrize("count", [0, 1, 499, 500, 501, 1000, 1001, 1500, 2000, 2345])
def test_dense_ids_stay_within_the_call_budget(count):
    app = PagedApp(range(1, count + 1))
    got, total = read_all(app)
    assert sorted(got) == list(range(1, count + 1))
    assert total == count
    assert app.calls <= math.ceil(count / 500) + 2


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.integers(min_value=1, max_value=6000), max_size=3200),
    st.integers(min_value=1, max_value=6),
)
def test_any_number_of_partitions_reads_every_record_once(ids, partitions):
    app = PagedApp(ids)
    got, total = read_all(app, partitions=partitions)
    assert sorted(got) == sorted(ids)
    assert total == len(ids)
    # Where gaps in the ids hide a range's end, one call more per partition and per take-over
    # (at most one per partition) at most.
    assert app.calls <= math.ceil(len(ids) / 500) + 1 + 2 * partitions


@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("count", [0, 1, 500, 501, 2000, 4321, 250_001])
def test_dense_ids_cost_one_call_more_than_the_pages_for_any_number_of_partitions(
    count, partitions
):
    app = DenseApp(count)
    got, total = read_all(app, partitions=partitions)
    assert len(got) == count and len(set(got)) == count and total == count
    assert app.calls <= math.ceil(count / 500) + 1 + (count == 0)


class DenseApp(PagedApp):
    """Ids 1..count without storing them (for large counts)."""

    def __init__(self, count):
        super().__init__([])
        self.count = count

    def get_records(self, app, query, fields=None, *, total_count=False):
        with self.lock:
            self.calls += 1
        match = _QUERY.fullmatch(query)
        low = int(match["after"]) + 1
        high = min(int(match["upto"]) if match["upto"] else self.count, self.count)
        limit = int(match["limit"])
        if match["order"] == "desc":
            page = range(high, max(low, high - limit + 1) - 1, -1) if high >= low else []
        else:
            page = range(low, min(high, low + limit - 1) + 1) if high >= low else []
        records = [{"$id": {"type": "__ID__", "value": str(i)}} for i in page]
        return records, (self.count if total_count else None)


def test_condition_is_kept_in_every_query():
    app = PagedApp(range(1, 3001))
    got, total = read_all(app, "even")
    assert sorted(got) == list(range(2, 3001, 2)) and total == 1500


def test_refused_condition_raises_from_the_first_access():
    reader = ParallelRecordReader(PagedApp(range(1, 10)), 1, "bad", None)
    with pytest.raises(KintoneValidationError):
        _ = reader.total_count
    reader.close()


def test_error_in_a_range_stream_reaches_the_consumer_and_stops_threads():
    class Failing(PagedApp):
        def get_records(self, app, query, fields=None, *, total_count=False):
            if "$id <=" in query and "$id > 1" in query and self.calls > 3:
                with self.lock:
                    self.calls += 1
                raise KintoneValidationError("CB_VA01", "boom")
            return super().get_records(app, query, fields, total_count=total_count)

    reader = ParallelRecordReader(Failing(range(1, 5001)), 1, "", None)
    with pytest.raises(KintoneValidationError, match="boom"):
        list(reader)
    assert all(not thread.is_alive() for thread in reader._threads)


def test_closing_early_stops_the_streams():
    reader = ParallelRecordReader(PagedApp(range(1, 20001)), 1, "", None)
    first = [next(reader) for _ in range(600)]
    reader.close()
    assert len(first) == 600
    assert all(not thread.is_alive() for thread in reader._threads)
    with pytest.raises(StopIteration):
        next(reader)


def test_order_by_and_plain_iterators_fall_back_to_the_clients_iterator():
    class IterOnly:
        def __init__(self):
            self.seen = []

        def iter_records(self, app, query, fields=None):
            self.seen.append(query)
            return iter([])

    client = IterOnly()
    read_records(client, 1, "a = 1", ["x"])
    assert client.seen == ["a = 1"]

    class Both(PagedApp, IterOnly):
        def __init__(self):
            PagedApp.__init__(self, [])
            IterOnly.__init__(self)

    both = Both()
    read_records(both, 1, "x = 1 order by y asc", ["x"])
    assert both.seen == ["x = 1 order by y asc"]
    assert isinstance(read_records(both, 1, "", ["x"]), ParallelRecordReader)
    with pytest.raises(ValueError):
        read_records(both, 1, "x = 1 limit 5", ["x"])


# -- partition bounds ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=16),
)
def test_partition_bounds_cover_the_span_once_in_whole_pages(after, span, partitions):
    ranges = split_ranges(after, after + span, partitions)
    if span == 0:
        assert ranges == []
        return
    assert 1 <= len(ranges) <= partitions
    # Contiguous (low, high] ranges from `after` to the highest id: no id in two, none left out.
    assert ranges[0][0] == after and ranges[-1][1] == after + span
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(high > low for low, high in ranges)
    # Every range but the last spans whole pages of ids, so dense ids end each on its bound.
    assert all((high - low) % 500 == 0 for low, high in ranges[:-1])


def test_partitions_come_from_the_config_and_never_exceed_the_domain_cap():
    assert read_partitions({}) == 4
    assert read_partitions({"KINTONE_READ_PARTITIONS": 8}) == 8
    assert read_partitions({"KINTONE_READ_PARTITIONS": 8, "KINTONE_DOMAIN_CONCURRENCY": 3}) == 3
    assert read_partitions({"KINTONE_READ_PARTITIONS": 64, "KINTONE_DOMAIN_CONCURRENCY": 99}) == 16
    assert read_partitions({"KINTONE_READ_PARTITIONS": "x"}) == 4
    assert domain_concurrency({}) == 20


def test_read_records_takes_the_partitions_of_the_active_run():
    context = RunContext(
        run_id="r",
        connector_id="c",
        process_key="p",
        process_number=None,
        trigger="manual",
        params={},
        started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        timezone="Asia/Tokyo",
        load_config=lambda: None,
        report_progress=lambda processed, total: None,
        app_config={"KINTONE_READ_PARTITIONS": 6},
    )
    app = DenseApp(10_000)
    assert read_records(app, 1, "", ["x"]).partitions == 4
    with context.active():
        reader = read_records(app, 1, "", ["x"])
    assert reader.partitions == 6
    assert len(list(reader)) == 10_000
    assert app.calls <= math.ceil(10_000 / 500) + 1


# -- changes during the read ----------------------------------------------------------------


class ChangingApp(PagedApp):
    """An app whose records are deleted, added (higher ids, as kintone numbers them) and, for
    the condition `m`, stop or start matching while the reader pages through it."""

    def __init__(self, ids, seed, *, churn=40):
        super().__init__(ids)
        self.present = set(ids)
        self.matching = {i for i in ids if i % 3}
        self.random = random.Random(seed)
        self.churn = churn
        self.next_id = max(ids, default=0) + 1
        self.ever_present = set(ids)
        self.ever_matching = set(self.matching)
        self.always_present = set(ids)
        self.always_matching = set(self.matching)

    def get_records(self, app, query, fields=None, *, total_count=False):
        with self.lock:
            self.calls += 1
            match = _QUERY.fullmatch(query)
            assert match and match["cond"] in (None, "m"), query
            pool = self.matching if match["cond"] == "m" else self.present
            ids = sorted(pool)
            upto = int(match["upto"]) if match["upto"] else math.inf
            chosen = [i for i in ids if int(match["after"]) < i <= upto]
            if match["order"] == "desc":
                chosen.reverse()
            page = chosen[: int(match["limit"])]
            self._change()
        records = [{"$id": {"type": "__ID__", "value": str(i)}} for i in page]
        return records, (len(ids) if total_count else None)

    def _change(self):
        for _ in range(self.churn):
            action = self.random.random()
            if action < 0.3 and self.present:
                gone = self.random.choice(sorted(self.present))
                self.present.discard(gone)
                self.matching.discard(gone)
                self.always_present.discard(gone)
                self.always_matching.discard(gone)
            elif action < 0.5:
                self.present.add(self.next_id)
                self.matching.add(self.next_id)
                self.ever_present.add(self.next_id)
                self.ever_matching.add(self.next_id)
                self.next_id += 1
            elif self.present:
                flipped = self.random.choice(sorted(self.present))
                if flipped in self.matching:
                    self.matching.discard(flipped)
                    self.always_matching.discard(flipped)
                else:
                    self.matching.add(flipped)
                    self.ever_matching.add(flipped)


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.sets(st.integers(min_value=1, max_value=8000), min_size=1, max_size=4000),  # sparse
        st.integers(min_value=1, max_value=6000).map(lambda n: set(range(1, n + 1))),  # dense
    ),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=2**32),
)
def test_records_deleted_or_added_during_the_read_are_never_skipped_or_repeated(
    ids, partitions, seed
):
    app = ChangingApp(ids, seed)
    got = [int(record["$id"]["value"]) for record in read_all_of(app, "", partitions)]
    assert len(got) == len(set(got)), "a record came twice"
    assert app.always_present <= set(got), "a record present throughout was skipped"
    assert set(got) <= app.ever_present


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.sets(st.integers(min_value=1, max_value=8000), min_size=1, max_size=4000),
        st.integers(min_value=1, max_value=6000).map(lambda n: set(range(1, n + 1))),
    ),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=2**32),
)
def test_records_that_start_or_stop_matching_during_the_read_never_hide_the_others(
    ids, partitions, seed
):
    app = ChangingApp(ids, seed, churn=60)
    got = [int(record["$id"]["value"]) for record in read_all_of(app, "m", partitions)]
    assert len(got) == len(set(got)), "a record came twice"
    assert app.always_matching <= set(got), "a record matching throughout was skipped"
    assert set(got) <= app.ever_matching


def read_all_of(app, condition, partitions):
    reader = ParallelRecordReader(app, 1, condition, None, partitions=partitions)
    try:
        return list(reader)
    finally:
        reader.close()


# -- bounded memory ---------------------------------------------------------------------------


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_a_slow_consumer_holds_back_the_partitions(partitions):
    app = DenseApp(500_000)
    reader = ParallelRecordReader(app, 1, "", None, partitions=partitions)
    try:
        for _ in range(10):
            next(reader)
        time.sleep(0.5)
        # First page + probe, then per partition one page waiting to be queued, and the queue.
        assert app.calls <= 2 + partitions + reader._pages.maxsize
        got = 10 + sum(1 for _ in reader)
    finally:
        reader.close()
    assert got == 500_000


def test_records_starting_to_match_in_one_partition_do_not_end_another_early():
    """Odd ids match at first (3,000 of them); once the read started, the even ids of the lower
    partition match too. The total the probe saw is then reached before the upper partition
    read its last odd ids, which matched throughout and must still come."""

    class Flipping(PagedApp):
        def __init__(self):
            super().__init__(range(1, 6001))
            self.matching = set(range(1, 6001, 2))

        def get_records(self, app, query, fields=None, *, total_count=False):
            match = _QUERY.fullmatch(query)
            after = int(match["after"])
            if match["upto"] and after >= 3499:
                time.sleep(0.2)  # the upper partition is the slow one
            with self.lock:
                self.calls += 1
                if match["upto"]:
                    self.matching |= set(range(1000, 3500, 2))
                upto = int(match["upto"]) if match["upto"] else math.inf
                chosen = [i for i in sorted(self.matching) if after < i <= upto]
                if match["order"] == "desc":
                    chosen.reverse()
                page = chosen[: int(match["limit"])]
                total = len(self.matching)
            records = [{"$id": {"type": "__ID__", "value": str(i)}} for i in page]
            return records, (total if total_count else None)

    got = [int(r["$id"]["value"]) for r in read_all_of(Flipping(), "m", 2)]
    assert len(got) == len(set(got))
    assert set(range(1, 6001, 2)) <= set(got)


def test_partitions_that_finish_early_take_over_half_of_a_crowded_range():
    """Dense low ids, a few sparse high ones: by id span the first partition holds most of the
    records; the others, done at once, split its range instead of idling."""

    class Slow(PagedApp):
        def __init__(self, ids):
            super().__init__(ids)
            self.by_thread = Counter()

        def get_records(self, app, query, fields=None, *, total_count=False):
            time.sleep(0.005)
            with self.lock:
                self.by_thread[threading.current_thread().name] += 1
            return super().get_records(app, query, fields, total_count=total_count)

    ids = list(range(1, 20_001)) + list(range(20_100, 60_001, 100))
    app = Slow(ids)
    got = [int(record["$id"]["value"]) for record in read_all_of(app, "", 4)]
    assert sorted(got) == ids
    # Without taking over, the first partition alone would make 30 of the calls.
    busiest = max(
        count for name, count in app.by_thread.items() if name.startswith("kintone-range")
    )
    assert busiest <= 20
    assert app.calls <= math.ceil(len(ids) / 500) + 1 + 4
