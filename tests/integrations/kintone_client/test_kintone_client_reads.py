"""Reading every record: `$id` seek (both ends), cursors and their clean-up, call counts."""

from __future__ import annotations

import gc
import math
import time

import pytest
import requests

from portal.integrations.kintone import (
    KintoneClient,
    KintoneCursorLimitError,
    KintoneFilterAbortedError,
    KintoneServerError,
    KintoneValidationError,
)

from .kintone_client_support import FAST_RETRY, SUB, ids_of

RECORDS_GET = "GET /k/v1/records.json"
CURSOR_POST = "POST /k/v1/records/cursor.json"
CURSOR_GET = "GET /k/v1/records/cursor.json"
CURSOR_DELETE = "DELETE /k/v1/records/cursor.json"


@pytest.mark.parametrize("count", [0, 1, 499, 500, 1000, 1001, 1203, 2000, 2500])
def test_seek_reads_every_record_once_within_the_call_budget(admin, app, client, count):
    admin.load_numbered(app, count)
    admin.reset_stats()
    iterator = client.iter_records(app)
    records = list(iterator)
    assert sorted(ids_of(records)) == list(range(1, count + 1))
    assert iterator.total_count == count
    calls = admin.calls(RECORDS_GET)
    assert calls <= math.ceil(count / 500) + 2
    assert calls == iterator.calls
    # No cursor is involved in a query without `order by`.
    assert admin.stats()["cursors"] == 0 and admin.calls(CURSOR_POST) == 0


def test_sequential_seek_yields_ascending_ids_with_exact_call_count(admin, app, client):
    admin.load_numbered(app, 1500)
    admin.reset_stats()
    iterator = client.iter_records(app, parallel=False)
    assert ids_of(iterator) == list(range(1, 1501))
    # 1500 = 3 × 500: the count from the first page spares the empty trailing call.
    assert admin.calls(RECORDS_GET) == 3


def test_seek_with_condition_and_fields_returns_only_matches_and_requested_fields(
    admin, app, client
):
    admin.load_numbered(app, 2300)
    records = list(client.iter_records(app, 'qty >= 100 and kind in ("A")', fields=["qty"]))
    qtys = sorted(int(r["qty"]["value"]) for r in records)
    assert qtys == [i for i in range(100, 2300) if i % 2]
    # `$id` is added for the seek; nothing else beyond the requested field.
    assert all(set(r) == {"qty", "$id"} for r in records)


def test_condition_with_or_is_parenthesised_before_the_seek(admin, app, client):
    admin.load_numbered(app, 1200)
    records = list(client.iter_records(app, "qty < 3 or qty >= 1198"))
    assert sorted(int(r["qty"]["value"]) for r in records) == [0, 1, 2, 1198, 1199]


def test_seek_passes_the_ten_thousand_offset_limit(admin, app, client):
    admin.load_numbered(app, 10_600)
    admin.reset_stats()
    iterator = client.iter_records(app, "qty >= 0")
    assert sum(1 for _ in iterator) == 10_600
    assert admin.calls(RECORDS_GET) <= math.ceil(10_600 / 500) + 2


@pytest.mark.parametrize("parallel", [False, True])
def test_records_deleted_during_a_seek_never_hide_others(admin, app, client, parallel):
    admin.load_numbered(app, 3000)
    iterator = client.iter_records(app, parallel=parallel, prefetch=False)
    seen = [int(next(iterator)["$id"]["value"]) for _ in range(300)]
    # Delete a record already read and records not read yet (middle and both ends).
    client.delete_records(app, [100, 1500, 1501, 2999, 3000])
    seen += ids_of(iterator)
    assert sorted(seen) == [i for i in range(1, 3001) if i not in (1500, 1501, 2999, 3000)]


def test_records_added_during_a_sequential_seek_are_read_too(admin, app, client):
    admin.load_numbered(app, 1000)
    iterator = client.iter_records(app, parallel=False, prefetch=False)
    seen = [int(next(iterator)["$id"]["value"]) for _ in range(10)]
    client.delete_records(app, [999])
    client.add_records(app, [{"title": {"value": "late"}}])
    seen += ids_of(iterator)
    # Deleting one record and adding one keeps the count: the walk still reaches the new one.
    assert sorted(seen) == [i for i in range(1, 1002) if i != 999]


def test_total_count_is_available_before_iterating(admin, app, client):
    admin.load_numbered(app, 700)
    iterator = client.iter_records(app, "qty >= 650")
    assert iterator.total_count == 50
    assert len(list(iterator)) == 50


def test_order_by_uses_a_cursor_that_ends_deleted(admin, app, client):
    admin.load_numbered(app, 1203)
    admin.reset_stats()
    iterator = client.iter_records(app, "qty >= 3 order by qty desc", fields=["qty"])
    qtys = [int(r["qty"]["value"]) for r in iterator]
    assert qtys == list(range(1202, 2, -1))
    assert iterator.total_count == 1200
    assert admin.calls(CURSOR_POST) == 1
    assert admin.calls(CURSOR_GET) == 3
    # The last page (next: false) deleted the cursor server-side; no DELETE was needed.
    assert admin.calls(CURSOR_DELETE) == 0
    assert admin.stats()["cursors"] == 0
    assert admin.calls(CURSOR_POST) + admin.calls(CURSOR_GET) <= math.ceil(1200 / 500) + 2


def test_abandoned_cursor_iteration_deletes_the_cursor(admin, app, client):
    admin.load_numbered(app, 1500)
    iterator = client.iter_records(app, "order by qty asc")
    first = [next(iterator) for _ in range(10)]
    assert [int(r["qty"]["value"]) for r in first] == list(range(10))
    assert admin.stats()["cursors"] == 1
    del iterator, first
    gc.collect()
    # A page prefetched in the background keeps the iterator alive until it arrives.
    deadline = time.monotonic() + 5
    while admin.stats()["cursors"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert admin.stats()["cursors"] == 0
    assert admin.calls(CURSOR_DELETE) == 1


def test_closing_a_cursor_iteration_in_a_with_block_deletes_it(admin, app, client):
    admin.load_numbered(app, 1500)
    with client.iter_records(app, "order by qty desc") as iterator:
        assert int(next(iterator)["qty"]["value"]) == 1499
    assert admin.stats()["cursors"] == 0
    with pytest.raises(StopIteration):
        next(iterator)


def test_cursor_is_deleted_when_a_page_fails(admin, app, client):
    admin.load_numbered(app, 1500)
    admin.config(
        faults=[
            {
                "path": "/k/v1/records/cursor.json",
                "method": "GET",
                "status": 500,
                "code": "GAIA_XX01",
                "times": 1,
            }
        ]
    )
    iterator = client.iter_records(app, "order by qty asc", prefetch=False)
    with pytest.raises(KintoneServerError) as caught:
        list(iterator)
    # A cursor page is never re-requested after an ambiguous failure.
    assert caught.value.status == 500
    assert admin.calls(CURSOR_GET) == 1
    assert admin.stats()["cursors"] == 0
    assert admin.calls(CURSOR_DELETE) == 1


def test_cursor_limit_frees_this_clients_idle_cursors_and_retries(admin, app, client):
    admin.load_numbered(app, 1200)
    admin.config(max_cursors=2)
    held = [client.iter_records(app, "order by qty asc", prefetch=False) for _ in range(2)]
    for iterator in held:
        next(iterator)
    assert admin.stats()["cursors"] == 2
    third = client.iter_records(app, "order by qty desc")
    assert len(list(third)) == 1200
    # The two idle cursors were released to make room, then the creation was retried.
    assert admin.calls(CURSOR_POST) == 4
    assert admin.calls(CURSOR_DELETE) == 2
    assert admin.stats()["cursors"] == 0
    with pytest.raises(Exception, match="released to make room"):
        list(held[0])


def test_cursor_limit_held_by_others_ends_in_a_cursor_limit_error(admin, app, base_url, client):
    admin.load_numbered(app, 10)
    admin.config(max_cursors=1)
    other = requests.post(
        f"{base_url}/k/v1/records/cursor.json",
        json={"app": app},
        headers={"X-Cybozu-API-Token": client._headers["X-Cybozu-API-Token"]},
        timeout=10,
    )
    assert other.status_code == 200
    with pytest.raises(KintoneCursorLimitError) as caught:
        list(client.iter_records(app, "order by qty asc"))
    assert caught.value.code == "GAIA_TM12" and caught.value.status == 429
    assert admin.calls(CURSOR_POST) == 1 + FAST_RETRY.attempts


def test_query_with_limit_is_refused_before_any_call(admin, app, client):
    admin.reset_stats()
    with pytest.raises(ValueError, match="limit/offset"):
        client.iter_records(app, "qty > 1 limit 10")
    assert admin.stats()["total"] == 0


def test_bad_query_raises_a_validation_error_naming_the_query(admin, app, client):
    with pytest.raises(KintoneValidationError) as caught:
        list(client.iter_records(app, 'title = "unterminated'))
    assert caught.value.code == "CB_VA01"
    assert [e.key for e in caught.value.field_errors] == ["query"]


def test_unknown_field_in_query_is_gaia_iq11(admin, app, client):
    with pytest.raises(KintoneValidationError) as caught:
        list(client.iter_records(app, "nope > 1"))
    assert caught.value.code == "GAIA_IQ11"
    assert "nope" in caught.value.message


def test_long_query_switches_to_post_with_method_override(admin, app, client):
    admin.load_numbered(app, 300)
    values = ", ".join(f'"S{i}"' for i in range(0, 3000, 3))
    query = f"sku in ({values})"
    assert len(query) > 4096
    admin.reset_stats()
    records = list(client.iter_records(app, query))
    assert sorted(int(r["qty"]["value"]) for r in records) == list(range(0, 300, 3))
    # The sandbox counts the overridden POST under the real method.
    assert admin.calls(RECORDS_GET) == 1


def test_get_record_and_get_records_page(admin, app, client):
    admin.load_numbered(app, 30)
    record = client.get_record(app, 7)
    assert record["title"]["value"] == "r6"
    page, total = client.get_records(app, "qty < 5 order by qty desc", ["qty"], total_count=True)
    assert [r["qty"]["value"] for r in page] == ["4", "3", "2", "1", "0"]
    assert total == 5


def test_guest_space_app_needs_the_guest_path(admin, base_url, kintone_sandbox):
    guest_app = admin.create_app(guestSpace=5)
    token = admin.token(guest_app, "view")
    admin.load_numbered(guest_app, 3)
    with KintoneClient(base_url, api_tokens=[token], retry=FAST_RETRY) as plain:
        with pytest.raises(KintoneValidationError) as caught:
            list(plain.iter_records(guest_app))
        assert caught.value.code == "GAIA_IL23"
    with KintoneClient(base_url, api_tokens=[token], retry=FAST_RETRY, guest_space_id=5) as guest:
        assert len(list(guest.iter_records(guest_app))) == 3
    assert SUB in base_url


def test_like_filter_aborted_at_the_hit_limit_is_an_error_not_a_short_answer(admin, app, client):
    admin.load(app, [{"title": {"value": f"hello world {i}"}} for i in range(30)])
    admin.config(like_hit_limit=10)
    with pytest.raises(KintoneFilterAbortedError) as caught:
        list(client.iter_records(app, 'title like "hello"'))
    assert "Filter aborted" in caught.value.message
    # Conditions without `like` are not limited.
    assert len(list(client.iter_records(app, 'title != "x"'))) == 30
