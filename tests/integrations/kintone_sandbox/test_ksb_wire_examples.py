"""The wire examples of spec §9, asserted shape by shape over real HTTP."""

from __future__ import annotations

import re
from typing import Any

ORDER_FIELDS = {
    "title": {"type": "SINGLE_LINE_TEXT", "required": True},
    "sku": {"type": "SINGLE_LINE_TEXT", "unique": True},
    "qty": {"type": "NUMBER", "required": True},
    "tags": {"type": "CHECK_BOX", "options": ["a", "b"]},
    "due": {"type": "DATE"},
    "owner": {"type": "USER_SELECT"},
    "items": {
        "type": "SUBTABLE",
        "fields": {"name": {"type": "SINGLE_LINE_TEXT"}, "n": {"type": "NUMBER"}},
    },
    "files": {"type": "FILE"},
}


def _order_app(kt: Any, locale: str = "en") -> tuple[int, str]:
    app = kt.create_app(ORDER_FIELDS, app=12, locale=locale)
    return app, kt.token(app, "view", "add", "edit", "delete")


def test_get_record_has_typed_system_fields_and_string_values(kt: Any):
    app, token = _order_app(kt)
    kt.user("bob", name="Bob")
    kt.config(now="2026-04-23T14:11:30Z")
    added = kt.api(
        "POST",
        "record",
        token=token,
        json={
            "app": app,
            "record": {
                "title": {"value": "hello"},
                "qty": {"value": 3},
                "tags": {"value": ["a", "b"]},
                "owner": {"value": [{"code": "bob"}]},
                "items": {"value": [{"value": {"name": {"value": "apple"}, "n": {"value": "2"}}}]},
            },
        },
    )
    assert added.json() == {"id": "1", "revision": "1"}
    response = kt.api("GET", "record", token=token, params={"app": app, "id": 1})
    assert response.status_code == 200
    record = response.json()["record"]
    assert record["$id"] == {"type": "__ID__", "value": "1"}
    assert record["$revision"] == {"type": "__REVISION__", "value": "1"}
    assert record["Record_number"] == {"type": "RECORD_NUMBER", "value": "1"}
    admin = {"code": "Administrator", "name": "Administrator"}
    assert record["Created_by"] == {"type": "CREATOR", "value": admin}
    assert record["Updated_by"] == {"type": "MODIFIER", "value": admin}
    assert record["Created_datetime"] == {"type": "CREATED_TIME", "value": "2026-04-23T14:11:00Z"}
    assert record["Updated_datetime"] == {"type": "UPDATED_TIME", "value": "2026-04-23T14:11:00Z"}
    assert record["title"] == {"type": "SINGLE_LINE_TEXT", "value": "hello"}
    assert record["qty"] == {"type": "NUMBER", "value": "3"}
    assert record["tags"] == {"type": "CHECK_BOX", "value": ["a", "b"]}
    assert record["due"] == {"type": "DATE", "value": None}
    assert record["owner"] == {"type": "USER_SELECT", "value": [{"code": "bob", "name": "Bob"}]}
    rows = record["items"]["value"]
    assert record["items"]["type"] == "SUBTABLE"
    assert len(rows) == 1 and re.fullmatch(r"\d+", rows[0]["id"])
    assert rows[0]["value"] == {
        "name": {"type": "SINGLE_LINE_TEXT", "value": "apple"},
        "n": {"type": "NUMBER", "value": "2"},
    }
    assert record["files"] == {"type": "FILE", "value": []}
    # Process-management fields are absent while process management is off.
    assert "Status" not in record and "Assignee" not in record and "Categories" not in record


def test_japanese_domain_uses_localized_system_codes(kt: Any):
    app, token = _order_app(kt, locale="ja")
    kt.api(
        "POST",
        "record",
        token=token,
        json={"app": app, "record": {"title": {"value": "t"}, "qty": {"value": 1}}},
    )
    record = kt.api("GET", "record", token=token, params={"app": app, "id": 1}).json()["record"]
    for code, ftype in [
        ("レコード番号", "RECORD_NUMBER"),
        ("作成者", "CREATOR"),
        ("作成日時", "CREATED_TIME"),
        ("更新者", "MODIFIER"),
        ("更新日時", "UPDATED_TIME"),
    ]:
        assert record[code]["type"] == ftype


def test_add_upsert_and_delete_like_section_9_2(kt: Any):
    app, token = _order_app(kt)
    kt.api(
        "POST",
        "records",
        token=token,
        json={
            "app": app,
            "records": [{"title": {"value": "x"}, "qty": {"value": "1"}} for _ in range(14)],
        },
    )
    response = kt.api(
        "POST",
        "records",
        token=token,
        json={
            "app": app,
            "records": [
                {"title": {"value": "a"}, "qty": {"value": "1"}},
                {"title": {"value": "b"}, "qty": {"value": "1"}},
            ],
        },
    )
    assert response.status_code == 200
    assert response.json() == {"ids": ["15", "16"], "revisions": ["1", "1"]}
    response = kt.api(
        "PUT",
        "records",
        token=token,
        json={
            "app": app,
            "upsert": True,
            "records": [
                {
                    "updateKey": {"field": "sku", "value": "X-1"},
                    "record": {"qty": {"value": "5"}, "title": {"value": "new"}},
                },
                {"id": 15, "revision": 1, "record": {"title": {"value": "a2"}}},
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "records": [
            {"id": "17", "revision": "1", "operation": "INSERT"},
            {"id": "15", "revision": "2", "operation": "UPDATE"},
        ]
    }
    inserted = kt.api("GET", "record", token=token, params={"app": app, "id": 17}).json()["record"]
    assert inserted["sku"]["value"] == "X-1" and inserted["qty"]["value"] == "5"
    response = kt.api(
        "DELETE",
        "records",
        token=token,
        params=[
            ("app", "12"),
            ("ids[0]", "15"),
            ("ids[1]", "16"),
            ("revisions[0]", "2"),
            ("revisions[1]", "-1"),
        ],
    )
    assert response.status_code == 200 and response.json() == {}
    ids = [r["$id"]["value"] for r in kt.dump(app)]
    assert "15" not in ids and "16" not in ids and "17" in ids


def test_cursor_lifecycle_like_section_9_3(kt: Any):
    app, token = _order_app(kt)
    kt.load(
        app, [{"title": {"value": f"t{i:04d}"}, "qty": {"value": str(i % 3)}} for i in range(1805)]
    )
    response = kt.api(
        "POST",
        "records/cursor",
        token=token,
        json={
            "app": app,
            "fields": ["$id", "title"],
            "query": "qty > 0 order by title asc",
            "size": 500,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body["id"])
    assert body["totalCount"] == "1203"
    pages = []
    while True:
        page = kt.api("GET", "records/cursor", token=token, params={"id": body["id"]}).json()
        pages.append(page)
        if not page["next"]:
            break
    assert [len(p["records"]) for p in pages] == [500, 500, 203]
    assert [p["next"] for p in pages] == [True, True, False]
    titles = [r["title"]["value"] for p in pages for r in p["records"]]
    assert titles == sorted(titles)
    assert set(pages[0]["records"][0]) == {"$id", "title"}
    gone = kt.api("DELETE", "records/cursor", token=token, json={"id": body["id"]})
    assert kt.error_of(gone) == (404, "GAIA_CN01")
    assert set(gone.json()) == {"code", "id", "message"}


def test_bulk_request_failure_rolls_back_like_section_9_4(kt: Any):
    app, token = _order_app(kt)
    response = kt.api(
        "POST",
        "bulkRequest",
        token=token,
        json={
            "requests": [
                {
                    "method": "POST",
                    "api": "/k/v1/record.json",
                    "payload": {
                        "app": app,
                        "record": {"title": {"value": "x"}, "qty": {"value": 1}},
                    },
                },
                {
                    "method": "PUT",
                    "api": "/k/v1/record.json",
                    "payload": {"app": app, "id": 999999, "record": {}},
                },
            ]
        },
    )
    assert response.status_code == 404
    results = response.json()["results"]
    assert results[0] == {}
    assert results[1]["code"] == "GAIA_RE01"
    assert results[1]["message"] == "The specified record (ID: 999999) is not found."
    assert kt.dump(app) == []


def test_validation_error_like_section_9_5(kt: Any):
    app, token = _order_app(kt)
    response = kt.api(
        "POST",
        "record",
        token=token,
        json={"app": app, "record": {"qty": {"value": "abc"}, "tags": {"value": ["zz"]}}},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "CB_VA01"
    assert body["message"] == "Missing or invalid input."
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", body["id"])
    assert body["errors"] == {
        "record.title.value": {"messages": ["Required."]},
        "record.qty.value": {"messages": ["Required."]},
        "record[qty].value": {"messages": ["Only numbers are allowed."]},
        "record.tags.values[0].value": {"messages": ['The value, "zz", is not in options.']},
    }


def test_query_errors_like_section_9_6(kt: Any):
    app, token = _order_app(kt)

    def query(q: str):
        return kt.api("GET", "records", token=token, params={"app": app, "query": q})

    assert kt.error_of(query('tags = "a"')) == (400, "GAIA_IQ03")
    missing = query("nope > 1")
    assert kt.error_of(missing) == (400, "GAIA_IQ11")
    assert missing.json()["message"] == "Specified field (nope) not found."
    assert kt.error_of(query("limit 501")) == (400, "GAIA_QU01")
    assert kt.error_of(query("offset 10001")) == (400, "GAIA_QU02")
    syntax = query('title = "a')
    assert kt.error_of(syntax) == (400, "CB_VA01")
    assert syntax.json()["errors"]["query"]["messages"] == ["The query is invalid."]


def test_app_bootstrap_by_rest_like_section_9_7(kt: Any):
    auth = kt.user("admin")
    created = kt.api("POST", "app", preview=True, auth=auth, json={"name": "Orders"})
    assert created.status_code == 200
    app = created.json()["app"]
    assert created.json() == {"app": app, "revision": "1"}
    # Not live yet: record APIs do not see it.
    assert kt.error_of(kt.api("GET", "records", auth=auth, params={"app": app})) == (
        404,
        "GAIA_AP01",
    )
    fields = kt.api(
        "POST",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={
            "app": int(app),
            "properties": {
                "sku": {
                    "type": "SINGLE_LINE_TEXT",
                    "code": "sku",
                    "label": "SKU",
                    "unique": True,
                    "required": True,
                    "maxLength": "64",
                },
                "qty": {"type": "NUMBER", "code": "qty", "label": "Qty", "minValue": "0"},
                "kind": {
                    "type": "DROP_DOWN",
                    "code": "kind",
                    "label": "Kind",
                    "options": {
                        "A": {"label": "A", "index": "0"},
                        "B": {"label": "B", "index": "1"},
                    },
                },
            },
        },
    )
    assert fields.json() == {"revision": "2"}
    deploy = kt.api(
        "POST",
        "app/deploy",
        preview=True,
        auth=auth,
        json={"apps": [{"app": int(app), "revision": 2}]},
    )
    assert deploy.status_code == 200 and deploy.json() == {}
    statuses = []
    for _ in range(3):
        status = kt.api(
            "GET", "app/deploy", preview=True, auth=auth, params={"apps[0]": app}
        ).json()
        statuses.append(status["apps"][0]["status"])
    assert statuses == ["PROCESSING", "SUCCESS", "SUCCESS"]
    live = kt.api("GET", "app/form/fields", auth=auth, params={"app": app}).json()
    assert live["revision"] == "2"
    assert live["properties"]["sku"]["unique"] is True
    assert live["properties"]["qty"]["minValue"] == "0"
    assert live["properties"]["kind"]["options"]["B"] == {"label": "B", "index": "1"}
    token = kt.token(int(app), "add", "view")
    added = kt.api(
        "POST", "record", token=token, json={"app": app, "record": {"sku": {"value": "S1"}}}
    )
    assert added.json() == {"id": "1", "revision": "1"}


def test_password_auth_header_form(kt: Any):
    app, _token = _order_app(kt)
    kt.user("alice", "pw")
    response = kt.api("GET", "records", auth=kt.password_header("alice", "pw"), params={"app": app})
    assert response.status_code == 200
    assert response.json() == {"records": [], "totalCount": None}
