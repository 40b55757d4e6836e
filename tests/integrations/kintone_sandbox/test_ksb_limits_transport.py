"""Limits (spec §6, §12.4, §12.6), transport quirks (§1.5, §1.7) and the test knobs."""

from __future__ import annotations

import threading
import time

import pytest

from tests.integrations.kintone_sandbox.conftest import SUB


@pytest.fixture
def app(kt):
    return kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}, "n": {"type": "NUMBER"}})


@pytest.fixture
def token(kt, app):
    return kt.token(app, "view", "add", "edit", "delete")


# -- write caps ----------------------------------------------------------------------------------


def test_write_caps_of_100_with_kintone_messages(kt, app, token):
    many = [{"t": {"value": str(i)}} for i in range(101)]
    add = kt.api("POST", "records", token=token, json={"app": app, "records": many})
    assert add.json()["errors"] == {
        "records": {"messages": ["A maximum of 100 records can be added at one time."]}
    }
    assert (
        kt.api("POST", "records", token=token, json={"app": app, "records": many[:100]}).status_code
        == 200
    )
    update = kt.api(
        "PUT",
        "records",
        token=token,
        json={"app": app, "records": [{"id": i + 1, "record": {}} for i in range(101)]},
    )
    assert update.json()["errors"] == {
        "records": {"messages": ["A maximum of 100 records can be updated at one time."]}
    }
    delete = kt.api("DELETE", "records", token=token, json={"app": app, "ids": list(range(1, 102))})
    assert delete.json()["errors"] == {
        "ids": {"messages": ["Between 1 and 100 records can be deleted at one time."]}
    }
    assert len(kt.dump(app)) == 100


def test_empty_and_missing_batches(kt, app, token):
    empty_add = kt.api("POST", "records", token=token, json={"app": app, "records": []})
    assert empty_add.json() == {"ids": [], "revisions": []}
    assert kt.api("PUT", "records", token=token, json={"app": app, "records": []}).json() == {
        "records": []
    }
    no_ids = kt.api("DELETE", "records", token=token, json={"app": app})
    assert kt.error_of(no_ids) == (400, "CB_VA01")
    assert no_ids.json()["errors"]["ids"]["messages"] == [
        "Required field.",
        "Between 1 and 100 records can be deleted at one time.",
    ]
    missing = kt.api("DELETE", "records", token=token, json={"app": app, "ids": [5]})
    assert kt.error_of(missing) == (404, "GAIA_RE01")


# -- bulkRequest -------------------------------------------------------------------------------------


def _bulk(kt, token, requests):
    return kt.api("POST", "bulkRequest", token=token, json={"requests": requests})


def test_bulk_runs_in_order_and_returns_each_result(kt, app, token):
    response = _bulk(
        kt,
        token,
        [
            {
                "method": "POST",
                "api": "/k/v1/records.json",
                "payload": {"app": app, "records": [{"t": {"value": "a"}}, {}]},
            },
            {
                "method": "PUT",
                "api": "/k/v1/record.json",
                "payload": {"app": app, "id": 1, "record": {"t": {"value": "b"}}},
            },
            {"method": "DELETE", "api": "/k/v1/records.json", "payload": {"app": app, "ids": [2]}},
            {"method": "POST", "api": "/k/v1/record.json", "payload": {"app": app, "record": {}}},
        ],
    )
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"ids": ["1", "2"], "revisions": ["1", "1"]},
            {"revision": "2"},
            {},
            {"id": "3", "revision": "1"},
        ]
    }
    assert [r["t"]["value"] for r in kt.dump(app)] == ["b", ""]


def test_bulk_rolls_back_everything_across_apps(kt, app, token):
    other = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT", "required": True}})
    tokens = [token, kt.token(other, "add")]
    kt.load(app, [{"t": {"value": "keep"}}])
    response = _bulk(
        kt,
        tokens,
        [
            {
                "method": "PUT",
                "api": "/k/v1/record.json",
                "payload": {"app": app, "id": 1, "record": {"t": {"value": "changed"}}},
            },
            {"method": "DELETE", "api": "/k/v1/records.json", "payload": {"app": app, "ids": [1]}},
            {"method": "POST", "api": "/k/v1/record.json", "payload": {"app": other, "record": {}}},
        ],
    )
    assert response.status_code == 400
    results = response.json()["results"]
    assert results[:2] == [{}, {}]
    assert results[2]["code"] == "CB_VA01"
    assert results[2]["errors"] == {"record.t.value": {"messages": ["Required."]}}
    remaining = kt.dump(app)
    assert [(r["t"]["value"], r["$revision"]["value"]) for r in remaining] == [("keep", "1")]
    assert kt.dump(other) == []


def test_bulk_limits_and_refused_apis(kt, app, token):
    post = {"method": "POST", "api": "/k/v1/record.json", "payload": {"app": app, "record": {}}}
    too_many = _bulk(kt, token, [post] * 21)
    assert kt.error_of(too_many) == (400, "CB_VA01")
    assert _bulk(kt, token, [post] * 20).status_code == 200
    read = _bulk(
        kt, token, [post, {"method": "GET", "api": "/k/v1/records.json", "payload": {"app": app}}]
    )
    assert read.status_code == 400
    assert read.json()["results"][0] == {} and read.json()["results"][1]["code"] == "CB_VA01"
    status = _bulk(
        kt, token, [{"method": "PUT", "api": "/k/v1/record/status.json", "payload": {"app": app}}]
    )
    assert status.json()["results"][0]["code"] == "GAIA_ST02"
    assert len(kt.dump(app)) == 20


def test_bulk_error_status_follows_the_failing_request(kt, app, token):
    kt.load(app, [{}])
    conflict = _bulk(
        kt,
        token,
        [
            {
                "method": "PUT",
                "api": "/k/v1/record.json",
                "payload": {"app": app, "id": 1, "revision": 5, "record": {}},
            }
        ],
    )
    assert conflict.status_code == 409
    assert conflict.json()["results"][0]["code"] == "GAIA_CO02"


# -- cursors -------------------------------------------------------------------------------------------


def _cursor(kt, token, app, **body):
    return kt.api("POST", "records/cursor", token=token, json={"app": app, **body})


def test_ten_cursors_per_domain(kt, app, token):
    ids = [_cursor(kt, token, app).json()["id"] for _ in range(10)]
    eleventh = _cursor(kt, token, app)
    assert kt.error_of(eleventh) == (429, "GAIA_TM12")
    other_domain = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}}, sub="other")
    other_token = kt.token(other_domain, "view", sub="other")
    assert (
        kt.api(
            "POST", "records/cursor", sub="other", token=other_token, json={"app": other_domain}
        ).status_code
        == 200
    )
    assert kt.api("DELETE", "records/cursor", token=token, json={"id": ids[0]}).json() == {}
    assert _cursor(kt, token, app).status_code == 200


def test_cursor_expires_after_ten_idle_minutes(kt, app, token):
    kt.load(app, [{} for _ in range(5)])
    kt.config(now="2026-04-01T00:00:00Z")
    cursor = _cursor(kt, token, app, size=2).json()["id"]
    kt.config(now="2026-04-01T00:09:00Z")
    assert (
        kt.api("GET", "records/cursor", token=token, params={"id": cursor}).json()["next"] is True
    )
    kt.config(now="2026-04-01T00:18:00Z")  # nine minutes after the last read: still alive
    assert (
        len(kt.api("GET", "records/cursor", token=token, params={"id": cursor}).json()["records"])
        == 2
    )
    kt.config(now="2026-04-01T00:28:01Z")
    expired = kt.api("GET", "records/cursor", token=token, params={"id": cursor})
    assert kt.error_of(expired) == (404, "GAIA_CN01")
    assert kt.stats()["cursors"] == 0


def test_cursor_parameters(kt, app, token):
    kt.load(app, [{"t": {"value": str(i)}} for i in range(150)])
    default = _cursor(kt, token, app).json()
    first = kt.api("GET", "records/cursor", token=token, params={"id": default["id"]}).json()
    assert len(first["records"]) == 100 and first["next"] is True
    assert kt.error_of(_cursor(kt, token, app, size=501)) == (400, "CB_VA01")
    assert kt.error_of(_cursor(kt, token, app, size=0)) == (400, "CB_VA01")
    with_limit = _cursor(kt, token, app, query="limit 10")
    assert kt.error_of(with_limit) == (400, "CB_VA01")
    assert "query" in with_limit.json()["errors"]
    assert kt.error_of(_cursor(kt, token, app, query="nope = 1")) == (400, "GAIA_IQ11")
    assert kt.error_of(kt.api("GET", "records/cursor", token=token, params={"id": "nope"})) == (
        404,
        "GAIA_CN01",
    )
    assert kt.error_of(kt.api("GET", "records/cursor", token=token)) == (400, "CB_VA01")


def test_cursor_record_set_is_fixed_but_values_are_current(kt, app, token):
    kt.load(app, [{"t": {"value": "a"}}, {"t": {"value": "b"}}, {"t": {"value": "c"}}])
    cursor = _cursor(kt, token, app, query="order by $id asc", fields=["t"]).json()
    assert cursor["totalCount"] == "3"
    kt.api("POST", "record", token=token, json={"app": app, "record": {"t": {"value": "late"}}})
    kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"t": {"value": "A"}}}
    )
    kt.api("DELETE", "records", token=token, json={"app": app, "ids": [2]})
    page = kt.api("GET", "records/cursor", token=token, params={"id": cursor["id"]}).json()
    assert page == {
        "records": [
            {"t": {"type": "SINGLE_LINE_TEXT", "value": "A"}},
            {"t": {"type": "SINGLE_LINE_TEXT", "value": "c"}},
        ],
        "next": False,
    }


def test_cursor_needs_view_permission_on_its_app(kt, app, token):
    cursor = _cursor(kt, token, app).json()["id"]
    add_only = kt.token(app, "add")
    assert kt.error_of(kt.api("GET", "records/cursor", token=add_only, params={"id": cursor})) == (
        403,
        "GAIA_NO01",
    )


# -- concurrency, latency, faults ----------------------------------------------------------------------


def test_concurrency_limit_answers_429_gaia_to04(kt, app, token):
    kt.config(concurrency_limit=2, latency_ms=400)
    results = []

    def call():
        results.append(kt.api("GET", "records", token=token, params={"app": app}))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 2 and statuses.count(429) == 3
    rejected = next(r for r in results if r.status_code == 429)
    assert rejected.json()["code"] == "GAIA_TO04"
    assert rejected.headers["X-Cybozu-Error"] == "GAIA_TO04"
    assert rejected.headers["X-ConcurrencyLimit-Limit"] == "2"
    assert rejected.headers["X-ConcurrencyLimit-Running"] == "2"
    # The stats keep the peak in flight and the refusals, per domain, until a stats reset.
    stats = kt.stats()
    assert stats["concurrency"] == {SUB: {"peak": 2, "rejected": 3}}
    assert stats["concurrency_limit"] == 2
    kt.admin("POST", "stats/reset", json={})
    assert kt.stats()["concurrency"] == {SUB: {"peak": 0, "rejected": 0}}


def test_concurrency_headers_on_every_response(kt, app, token):
    response = kt.api("GET", "records", token=token, params={"app": app})
    assert response.headers["X-ConcurrencyLimit-Limit"] == "100"
    assert response.headers["X-ConcurrencyLimit-Running"] == "1"


def test_latency_applies_to_rest_calls_only(kt, app, token):
    kt.config(latency_ms=200)
    started = time.perf_counter()
    kt.api("GET", "records", token=token, params={"app": app})
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    kt.stats()
    assert time.perf_counter() - started < 0.2


def test_faults_answer_the_next_matching_calls(kt, app, token):
    kt.config(
        faults=[
            {
                "path": "/k/v1/records.json",
                "method": "GET",
                "status": 503,
                "code": "GAIA_XX01",
                "times": 2,
            },
            {"path": "*/record.json", "status": 429, "code": "GAIA_TO04"},
        ]
    )
    # POST is not matched by the first fault.
    assert (
        kt.api("POST", "records", token=token, json={"app": app, "records": [{}]}).status_code
        == 200
    )
    for _ in range(2):
        failed = kt.api("GET", "records", token=token, params={"app": app})
        assert kt.error_of(failed) == (503, "GAIA_XX01")
        assert set(failed.json()) == {"code", "id", "message"}
    assert kt.api("GET", "records", token=token, params={"app": app}).status_code == 200
    busy = kt.api("GET", "record", token=token, params={"app": app, "id": 1})
    assert kt.error_of(busy) == (429, "GAIA_TO04")
    assert busy.headers["X-Cybozu-Error"] == "GAIA_TO04"
    assert kt.api("GET", "record", token=token, params={"app": app, "id": 1}).status_code == 200
    assert kt.admin("GET", "config").json()["faults"] == []
    calls = kt.stats()["calls"]
    assert calls["GET /k/v1/records.json"] == 3 and calls["GET /k/v1/record.json"] == 2


def test_fault_without_code_is_a_non_json_maintenance_page(kt, app, token):
    kt.config(faults=[{"path": "/k/v1/records.json", "status": 503, "code": None}])
    response = kt.api("GET", "records", token=token, params={"app": app})
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "503" in response.text


def test_faults_happen_before_the_request_reaches_the_app(kt, app, token):
    kt.config(
        faults=[
            {"path": "/k/v1/record.json", "status": 500, "code": "GAIA_RE18", "message": "db lock"}
        ]
    )
    failed = kt.api("POST", "record", token=token, json={"app": app, "record": {}})
    assert failed.status_code == 500 and failed.json()["message"] == "db lock"
    assert kt.dump(app) == []


# -- stats and daily counter --------------------------------------------------------------------------------


def test_stats_count_calls_per_method_and_path(kt, app, token):
    kt.api("GET", "records", token=token, params={"app": app})
    kt.api("GET", "records", token=token, params={"app": app})
    kt.api("POST", "record", token=token, json={"app": app, "record": {}})
    kt.api("GET", "records", token="bad", params={"app": app})
    stats = kt.stats()
    assert stats["calls"] == {"GET /k/v1/records.json": 3, "POST /k/v1/record.json": 1}
    assert stats["total"] == 4
    day = next(iter(stats["daily"].values()))
    assert day == {str(app): 3}
    assert kt.admin("POST", "stats/reset", json={}).status_code == 200
    assert kt.stats()["total"] == 0


def test_daily_counter_never_rejects(kt, app, token):
    kt.config(now="2026-04-01T23:59:00Z")
    for _ in range(3):
        assert kt.api("GET", "records", token=token, params={"app": app}).status_code == 200
    kt.config(now="2026-04-02T00:01:00Z")  # 09:01 in Tokyo: a new counting day
    kt.api("GET", "records", token=token, params={"app": app})
    assert kt.stats()["daily"] == {"2026-04-01": {str(app): 3}, "2026-04-02": {str(app): 1}}


# -- request format ----------------------------------------------------------------------------------------------


def test_bad_json_unknown_api_and_wrong_method(kt, app, token):
    bad = kt.api(
        "POST",
        "record",
        token=token,
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert kt.error_of(bad) == (400, "CB_IJ01")
    assert kt.error_of(kt.api("GET", "nothing/here", token=token)) == (404, "GAIA_NF01")
    assert kt.error_of(kt.api("PATCH", "records", token=token, json={"app": app})) == (
        405,
        "CB_IL02",
    )


def test_query_string_arrays_for_delete_and_deploy_status(kt, app, token):
    kt.load(app, [{}, {}, {}])
    response = kt.api(
        "DELETE", "records", token=token, params=[("app", app), ("ids[0]", 1), ("ids[1]", 3)]
    )
    assert response.status_code == 200
    assert [r["$id"]["value"] for r in kt.dump(app)] == ["2"]


def test_urls_longer_than_8kb_are_refused_like_kintone(kt, app, token):
    long_query = 't in ("' + "x" * 9000 + '")'
    too_long = kt.api("GET", "records", token=token, params={"app": app, "query": long_query})
    assert too_long.status_code == 414
    assert kt.stats()["total"] == 0
    fits = kt.api(
        "GET", "records", token=token, params={"app": app, "query": 't in ("' + "x" * 7000 + '")'}
    )
    assert fits.status_code == 200
    override = kt.api(
        "POST",
        "records",
        token=token,
        headers={"X-HTTP-Method-Override": "GET"},
        json={"app": app, "query": long_query},
    )
    assert override.status_code == 200 and override.json()["records"] == []
