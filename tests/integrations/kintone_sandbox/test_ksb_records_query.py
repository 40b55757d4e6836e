"""GET records.json with queries over HTTP: ordering, paging, totals, fields, clock, tables."""

from __future__ import annotations

import pytest

FIELDS = {
    "name": {"type": "SINGLE_LINE_TEXT"},
    "qty": {"type": "NUMBER"},
    "kind": {"type": "DROP_DOWN", "options": ["A", "B"]},
    "due": {"type": "DATE"},
    "memo": {"type": "MULTI_LINE_TEXT"},
    "owner": {"type": "USER_SELECT"},
    "items": {
        "type": "SUBTABLE",
        "fields": {"item": {"type": "SINGLE_LINE_TEXT"}, "n": {"type": "NUMBER"}},
    },
}


@pytest.fixture
def app(kt):
    app = kt.create_app(FIELDS)
    kt.user("alice", name="Alice")
    kt.load(
        app,
        [
            {
                "name": {"value": f"n{i:02d}"},
                "qty": {"value": str(i % 4)},
                "kind": {"value": "AB"[i % 2]},
                "due": {"value": f"2026-04-{i + 1:02d}"},
                "memo": {"value": "" if i % 3 else "  \n"},
                "owner": {"value": [{"code": "alice"}] if i < 3 else []},
                "items": {
                    "value": [
                        {"value": {"item": {"value": "apple"}, "n": {"value": str(i)}}},
                        {"value": {"item": {"value": "pear"}, "n": {"value": "100"}}},
                    ]
                    if i % 5 == 0
                    else []
                },
            }
            for i in range(20)
        ],
    )
    return app


@pytest.fixture
def token(kt, app):
    return kt.token(app, "view")


def _ids(kt, app, token, query="", **params):
    response = kt.api("GET", "records", token=token, params={"app": app, "query": query, **params})
    assert response.status_code == 200, response.text
    return [int(r["$id"]["value"]) for r in response.json()["records"]]


def test_default_order_is_id_descending_and_default_limit_100(kt, token):
    app = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.load(app, [{} for _ in range(150)])
    view = kt.token(app, "view")
    ids = _ids(kt, app, view)
    assert len(ids) == 100 and ids[0] == 150 and ids[-1] == 51


def test_order_by_several_keys_limit_and_offset(kt, app, token):
    ids = _ids(kt, app, token, "order by qty desc, $id asc limit 5 offset 2")
    assert ids == [12, 16, 20, 3, 7]
    assert _ids(kt, app, token, "order by name asc limit 3") == [1, 2, 3]


def test_total_count_is_null_unless_asked(kt, app, token):
    plain = kt.api(
        "GET", "records", token=token, params={"app": app, "query": "qty = 1 limit 2"}
    ).json()
    assert plain["totalCount"] is None and len(plain["records"]) == 2
    counted = kt.api(
        "GET",
        "records",
        token=token,
        params={"app": app, "query": "qty = 1 limit 2", "totalCount": "true"},
    ).json()
    assert counted["totalCount"] == "5"
    everything = kt.api(
        "GET", "records", token=token, params={"app": app, "totalCount": True}
    ).json()
    assert everything["totalCount"] == "20"


def test_fields_parameter_in_query_string_and_body(kt, app, token):
    by_query = kt.api(
        "GET",
        "records",
        token=token,
        params={"app": app, "fields[0]": "name", "fields[1]": "$id", "query": "$id = 3"},
    ).json()["records"]
    assert by_query == [
        {
            "$id": {"type": "__ID__", "value": "3"},
            "name": {"type": "SINGLE_LINE_TEXT", "value": "n02"},
        }
    ]
    by_body = kt.api(
        "GET", "records", token=token, json={"app": app, "fields": ["qty"], "query": "$id = 3"}
    )
    assert by_body.json()["records"] == [{"qty": {"type": "NUMBER", "value": "2"}}]


def test_post_with_method_override_reads_records(kt, app, token):
    long_query = "name in (" + ", ".join(f'"x{i}"' for i in range(600)) + ', "n05")'
    response = kt.api(
        "POST",
        "records",
        token=token,
        headers={"X-HTTP-Method-Override": "GET"},
        json={"app": app, "query": long_query},
    )
    assert response.status_code == 200
    assert [r["name"]["value"] for r in response.json()["records"]] == ["n05"]
    assert kt.stats()["calls"] == {"GET /k/v1/records.json": 1}


def test_method_override_only_on_post_and_upper_case(kt, app, token):
    bad = kt.api(
        "POST", "records", token=token, headers={"X-HTTP-Method-Override": "get"}, json={"app": app}
    )
    assert kt.error_of(bad) == (400, "CB_IL02")
    ignored = kt.api(
        "GET",
        "records",
        token=token,
        headers={"X-HTTP-Method-Override": "DELETE"},
        params={"app": app},
    )
    assert ignored.status_code == 200 and len(ignored.json()["records"]) == 20


def test_conditions_over_http(kt, app, token):
    assert _ids(kt, app, token, 'kind in ("A") and qty >= 2 order by $id asc') == [3, 7, 11, 15, 19]
    assert _ids(kt, app, token, '(qty = 0 or qty = 1) and name like "n01" ') == [2]
    assert _ids(kt, app, token, "memo is not empty order by $id asc") == []
    assert len(_ids(kt, app, token, "memo is empty")) == 20
    assert _ids(kt, app, token, 'owner in ("alice") order by $id asc') == [1, 2, 3]
    assert _ids(kt, app, token, 'due >= "2026-04-18" order by $id asc') == [18, 19, 20]


def test_loginuser_is_the_caller(kt, app):
    alice = kt.password_header("alice", "secret")
    response = kt.api(
        "GET",
        "records",
        auth=alice,
        params={"app": app, "query": "owner in (LOGINUSER()) order by $id asc"},
    )
    assert [int(r["$id"]["value"]) for r in response.json()["records"]] == [1, 2, 3]
    token = kt.token(app, "view")
    as_admin = kt.api(
        "GET", "records", token=token, params={"app": app, "query": "owner in (LOGINUSER())"}
    )
    assert as_admin.json()["records"] == []


def test_date_functions_follow_the_settable_clock(kt, app, token):
    kt.config(now="2026-04-09T16:00:00Z")  # 2026-04-10 01:00 in Tokyo
    assert _ids(kt, app, token, "due = TODAY()") == [10]
    assert _ids(kt, app, token, "due = YESTERDAY()") == [9]
    assert _ids(kt, app, token, "due = THIS_WEEK(MONDAY)") == [6]
    assert _ids(kt, app, token, "due < FROM_TODAY(-7, DAYS) order by $id asc") == [1, 2]
    assert _ids(kt, app, token, "due = LAST_MONTH(LAST)") == []
    kt.config(now="2026-05-01T00:00:00Z")
    assert _ids(kt, app, token, "due >= LAST_MONTH(19) order by $id asc") == [19, 20]


def test_subtable_queries_over_http(kt, app, token):
    assert _ids(kt, app, token, 'item in ("apple") order by $id asc') == [1, 6, 11, 16]
    assert _ids(kt, app, token, 'item in ("apple") and n > 10 order by $id asc') == [16]
    assert _ids(kt, app, token, 'item in ("pear") and n > 10 order by $id asc') == [1, 6, 11, 16]
    assert _ids(kt, app, token, 'item not in ("kiwi") order by $id asc') == [1, 6, 11, 16]
    assert kt.error_of(
        kt.api("GET", "records", token=token, params={"app": app, "query": 'item = "apple"'})
    ) == (
        400,
        "GAIA_IQ07",
    )
    dotted = kt.api(
        "GET", "records", token=token, params={"app": app, "query": 'items.item in ("apple")'}
    )
    assert kt.error_of(dotted) == (400, "GAIA_IR02")


def test_id_seek_reads_everything_in_pages(kt, token, app):
    seen, last = [], 0
    while True:
        page = _ids(kt, app, token, f"$id > {last} order by $id asc limit 7")
        if not page:
            break
        seen += page
        last = page[-1]
    assert seen == list(range(1, 21))


def test_offset_paging_and_caps(kt, app, token):
    assert _ids(kt, app, token, "order by $id asc limit 3 offset 18") == [19, 20]
    assert _ids(kt, app, token, "limit 500 offset 10000") == []
    negative = kt.api("GET", "records", token=token, params={"app": app, "query": "limit -5"})
    assert kt.error_of(negative) == (400, "CB_VA01")


def test_like_abort_sets_the_warning_header(kt, app, token):
    kt.config(like_hit_limit=5)
    response = kt.api(
        "GET",
        "records",
        token=token,
        params={"app": app, "query": 'name like "n0"', "totalCount": "true"},
    )
    assert "X-Cybozu-Warning" not in response.headers  # "n0" is not a whole word: no hits
    many = kt.api(
        "GET",
        "records",
        token=token,
        params={"app": app, "query": 'memo not like "zzz"', "totalCount": "true"},
    )
    assert many.status_code == 200
    assert many.headers["X-Cybozu-Warning"] == "Filter aborted because of too many search results"
    assert many.json()["totalCount"] == "5"
    exact = kt.api("GET", "records", token=token, params={"app": app, "query": "qty >= 0"})
    assert "X-Cybozu-Warning" not in exact.headers


def test_get_record_errors(kt, app, token):
    missing = kt.api("GET", "record", token=token, params={"app": app, "id": 999})
    assert kt.error_of(missing) == (404, "GAIA_RE01")
    assert missing.json()["message"] == "The specified record (ID: 999) is not found."
    no_id = kt.api("GET", "record", token=token, params={"app": app})
    assert no_id.json()["errors"] == {"id": {"messages": ["Required field."]}}
    negative = kt.api("GET", "records", token=token, params={"app": -1})
    assert negative.json()["errors"] == {
        "app": {"messages": ["must be greater than or equal to 1"]}
    }
    no_app = kt.api("GET", "records", token=token)
    assert no_app.json()["errors"] == {"app": {"messages": ["Required field."]}}
