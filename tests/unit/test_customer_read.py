"""The two-range `$id` reader: every record exactly once, few calls, whatever the id layout."""

from __future__ import annotations

import math
import re
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.integrations.kintone import KintoneValidationError
from portal.syncs.record_read import ParallelRecordReader, read_records

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


def read_all(app: PagedApp, condition: str = "", streams: int = 2) -> tuple[list[int], int | None]:
    reader = ParallelRecordReader(app, 1, condition, ["mail"], streams=streams)
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
def test_any_number_of_streams_reads_every_record_once(ids, streams):
    app = PagedApp(ids)
    got, total = read_all(app, streams=streams)
    assert sorted(got) == sorted(ids)
    assert total == len(ids)
    # One call more per stream at most, where gaps in the ids hide a range's end.
    assert app.calls <= math.ceil(len(ids) / 500) + 1 + streams


@pytest.mark.parametrize("streams", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("count", [0, 1, 500, 501, 2000, 4321, 250_001])
def test_dense_ids_cost_one_call_more_than_the_pages_for_any_number_of_streams(count, streams):
    app = DenseApp(count)
    got, total = read_all(app, streams=streams)
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
