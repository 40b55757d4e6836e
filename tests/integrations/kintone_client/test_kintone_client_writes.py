"""Bulk writes: chunking into bulkRequests, progress, located validation errors, partial commits."""

from __future__ import annotations

import math

import pytest

from portal.integrations.kintone import (
    KintoneClient,
    KintoneConflictError,
    KintoneNotFoundError,
    KintoneValidationError,
)

from .kintone_client_support import FAST_RETRY

BULK = "POST /k/v1/bulkRequest.json"


def values(records, code: str) -> list[str]:
    return [r[code]["value"] for r in records]


@pytest.mark.parametrize("count", [1, 100, 101, 2000, 2001, 4500])
def test_add_records_uses_one_bulk_request_per_two_thousand(admin, app, client, count):
    progress = []
    result = client.add_records(
        app,
        [{"title": {"value": f"t{i}"}, "qty": {"value": i}} for i in range(count)],
        on_progress=lambda done, total: progress.append((done, total)),
    )
    # Chunks in flight together may commit in any order; ids still follow the input order.
    title_by_id = {int(r["$id"]["value"]): r["title"]["value"] for r in admin.dump(app)}
    assert [title_by_id[record_id] for record_id in result.ids] == [f"t{i}" for i in range(count)]
    assert sorted(result.ids) == list(range(1, count + 1))
    assert set(result.revisions) == {1}
    assert result.count == count
    assert result.calls == admin.calls(BULK) == math.ceil(count / 2000)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert progress[-1] == (count, count)
    assert {total for _, total in progress} == {count}


def test_add_records_accepts_a_generator_and_reports_unknown_total(admin, app, client):
    progress = []
    result = client.add_records(
        app,
        ({"title": {"value": f"g{i}"}} for i in range(2500)),
        on_progress=lambda done, total: progress.append((done, total)),
        max_in_flight=1,
    )
    assert result.count == 2500
    assert progress == [(2000, None), (2500, None)]
    assert len(admin.dump(app)) == 2500


def test_validation_error_names_the_input_record_and_field_and_what_was_committed(
    admin, app, client
):
    records = [{"title": {"value": f"t{i}"}, "qty": {"value": "1"}} for i in range(5000)]
    records[2345]["qty"] = {"value": "abc"}
    with pytest.raises(KintoneValidationError) as caught:
        client.add_records(app, records, max_in_flight=1)
    error = caught.value
    assert error.code == "CB_VA01"
    assert error.record_index == 2345
    assert error.field_code == "qty"
    assert error.bulk_index == 3  # the fourth records.json request of the second bulk
    text = str(error)
    assert 'record #2345 field "qty": Only numbers are allowed.' in text
    assert "records #2000-#3999 were not written" in text
    assert "committed: 0-1999" in text
    assert "records from #4000 on were not sent" in text
    report = error.write_report
    assert report.committed == [(0, 2000)] and report.failed == [(2000, 4000)]
    assert report.done == 2000 and report.total == 5000
    # Chunk 2 was rolled back as a whole; chunk 3 was never sent.
    assert values(admin.dump(app), "title") == [f"t{i}" for i in range(2000)]
    assert admin.calls(BULK) == 2


def test_concurrent_chunks_after_a_failed_one_are_reported_as_committed(admin, app, client):
    records = [{"title": {"value": f"t{i}"}} for i in range(6000)]
    records[10]["qty"] = {"value": "x"}
    with pytest.raises(KintoneValidationError) as caught:
        client.add_records(app, records, max_in_flight=3)
    report = caught.value.write_report
    assert report.failed == [(0, 2000)]
    committed_ids = sorted(i for start, stop in report.committed for i in range(start, stop))
    stored = sorted(int(t[1:]) for t in values(admin.dump(app), "title"))
    assert stored == committed_ids
    assert caught.value.record_index == 10


def test_update_by_id_and_by_update_key_with_revisions(admin, app, client):
    admin.load_numbered(app, 250)
    updates = [{"id": i, "record": {"title": {"value": f"u{i}"}}} for i in range(1, 201)]
    updates += [
        {"updateKey": {"field": "sku", "value": f"S{i}"}, "record": {"qty": {"value": 1000 + i}}}
        for i in range(200, 250)
    ]
    result = client.update_records(app, updates)
    assert result.count == 250 and result.calls == 1
    assert list(result.ids[:3]) == [1, 2, 3]
    assert set(result.revisions) == {2}
    stored = admin.dump(app)
    assert stored[0]["title"]["value"] == "u1"
    assert stored[249]["qty"]["value"] == "1249"
    assert stored[249]["title"]["value"] == "r249"


def test_revision_conflict_names_the_record(admin, app, client):
    admin.load_numbered(app, 120)
    updates = [{"id": i, "revision": 1, "record": {}} for i in range(1, 121)]
    updates[105]["revision"] = 7
    with pytest.raises(KintoneConflictError) as caught:
        client.update_records(app, updates)
    error = caught.value
    assert error.code == "GAIA_CO02" and error.status == 409
    assert error.bulk_index == 1
    # All-or-nothing: not even the first hundred got a new revision.
    assert {r["$revision"]["value"] for r in admin.dump(app)} == {"1"}
    assert admin.calls(BULK) == 1


def test_unknown_record_id_is_located_in_the_input(admin, app, client):
    admin.load_numbered(app, 5)
    updates = [{"id": i, "record": {"qty": {"value": 1}}} for i in (1, 2, 999, 3)]
    with pytest.raises(KintoneNotFoundError) as caught:
        client.update_records(app, updates)
    assert caught.value.code == "GAIA_RE01"
    assert caught.value.record_index == 2 and caught.value.record_id == 999
    assert "record #2 (id 999)" in str(caught.value)


def test_upsert_inserts_missing_keys_and_updates_existing_ones(admin, app, client):
    admin.load_numbered(app, 3)
    result = client.upsert_records(
        app,
        [
            {"updateKey": {"field": "sku", "value": "S1"}, "record": {"qty": {"value": "11"}}},
            {"updateKey": {"field": "sku", "value": "NEW"}, "record": {"qty": {"value": "5"}}},
        ],
    )
    assert result.operations == ["UPDATE", "INSERT"]
    assert list(result.ids) == [2, 4]
    stored = {r["sku"]["value"]: r["qty"]["value"] for r in admin.dump(app)}
    assert stored == {"S0": "0", "S1": "11", "S2": "2", "NEW": "5"}


def test_upsert_validation_error_names_the_update_key(admin, app, client):
    admin.load_numbered(app, 2)
    with pytest.raises(KintoneValidationError) as caught:
        client.upsert_records(
            app,
            [
                {"updateKey": {"field": "sku", "value": "S0"}, "record": {}},
                {"updateKey": {"field": "sku", "value": "S1"}, "record": {"qty": {"value": "?"}}},
            ],
        )
    error = caught.value
    assert error.record_index == 1
    assert error.update_key == {"field": "sku", "value": "S1"}
    assert error.field_code == "qty"
    assert 'record #1 (updateKey sku="S1") field "qty"' in str(error)


def test_update_needs_exactly_one_of_id_and_update_key(app, client):
    with pytest.raises(ValueError, match="exactly one"):
        client.update_records(app, [{"record": {}}])


def test_delete_records_in_bulk_with_optional_revisions(admin, app, client):
    admin.load_numbered(app, 2300)
    result = client.delete_records(app, range(1, 2101))
    assert result.count == 2100 and result.calls == 2
    assert [r["$id"]["value"] for r in admin.dump(app)][:2] == ["2101", "2102"]
    with pytest.raises(KintoneConflictError):
        client.delete_records(app, [2101, 2102], revisions=[1, 5])
    assert len(admin.dump(app)) == 200
    client.delete_records(app, [2101, 2102], revisions=[1, -1])
    assert len(admin.dump(app)) == 198


def test_single_in_flight_write_without_a_pool(admin, app, base_url, full_token):
    with KintoneClient(base_url, api_tokens=[full_token], retry=FAST_RETRY) as client:
        result = client.add_records(app, [{"title": {"value": "x"}}] * 3, max_in_flight=1)
        assert client._pool is None
    assert result.count == 3 and len(admin.dump(app)) == 3
