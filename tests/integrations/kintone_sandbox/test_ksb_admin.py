"""The sandbox-only admin API (`/_sandbox/...`) and the `--data` start-up file."""

from __future__ import annotations

import json

import requests

from sandbox.kintone import create_app
from sandbox.serve import serve_in_thread


def test_reset_forgets_everything_and_restores_knobs(kt):
    app = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.token(app, "view", token="fixed-token")
    kt.config(
        latency_ms=5,
        now="2026-01-01T00:00:00Z",
        faults=[{"path": "*", "status": 500, "code": "X_1"}],
    )
    assert kt.admin("POST", "reset").json() == {}
    config = kt.admin("GET", "config").json()
    assert config == {
        "latency_ms": 0,
        "now": None,
        "faults": [],
        "concurrency_limit": 100,
        "like_hit_limit": 100000,
        "deploy_polls": 1,
        "max_cursors": 10,
        "cursor_ttl_seconds": 600,
        "language": "en",
    }
    response = kt.api("GET", "records", token="fixed-token", params={"app": app})
    assert kt.error_of(response) == (400, "GAIA_IA02")


def test_issued_tokens_are_listed_by_subdomain_and_app(kt):
    customers = kt.create_app({}, name="顧客リスト")
    other = kt.create_app({}, name="商談")
    kt.token(customers, "view", "edit", token="customers-token")
    kt.token(other, token="other-token", active=False)
    kt.token(kt.create_app({}, sub="elsewhere"), sub="elsewhere", token="elsewhere-token")
    listed = kt.admin("GET", "tokens").json()["tokens"]
    assert {t["token"] for t in listed} == {"customers-token", "other-token", "elsewhere-token"}
    mine = kt.admin("GET", "tokens", params={"subdomain": "example", "app": customers}).json()
    assert mine == {
        "tokens": [
            {
                "subdomain": "example",
                "app": str(customers),
                "app_name": "顧客リスト",
                "token": "customers-token",
                "permissions": ["edit", "view"],
                "active": True,
            }
        ]
    }
    drafts = kt.admin("GET", "tokens", params={"app": other}).json()["tokens"]
    assert [(t["token"], t["active"]) for t in drafts] == [("other-token", False)]
    assert kt.admin("GET", "tokens", params={"app": "x"}).status_code == 400


def test_create_app_with_fixed_id_locale_and_own_system_codes(kt):
    assert kt.create_app({}, app=40) == 40
    assert kt.create_app({}) == 41
    clash = kt.admin("POST", "apps", json={"subdomain": "example", "app": 40, "fields": {}})
    assert clash.status_code == 409
    english = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}}, locale="en")
    custom = kt.create_app(
        {"No": {"type": "RECORD_NUMBER", "label": "No."}, "t": {"type": "SINGLE_LINE_TEXT"}}
    )
    auth = kt.user("admin")
    en_props = kt.api("GET", "app/form/fields", auth=auth, params={"app": english}).json()[
        "properties"
    ]
    assert {
        "Record_number",
        "Created_by",
        "Created_datetime",
        "Updated_by",
        "Updated_datetime",
    } <= set(en_props)
    custom_props = kt.api("GET", "app/form/fields", auth=auth, params={"app": custom}).json()[
        "properties"
    ]
    assert custom_props["No"] == {
        "type": "RECORD_NUMBER",
        "code": "No",
        "label": "No.",
        "noLabel": False,
    }
    assert "レコード番号" not in custom_props


def test_create_app_refuses_bad_properties(kt):
    response = kt.admin(
        "POST", "apps", json={"subdomain": "example", "fields": {"x": {"type": "NOPE"}}}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"fields[x].type": ["Unknown field type."]}
    assert kt.admin("POST", "apps", json={"fields": {}}).status_code == 400


def test_tokens_fixed_values_and_validation(kt):
    app = kt.create_app({})
    assert kt.token(app, "view", token="my-token") == "my-token"
    assert (
        kt.admin(
            "POST", "tokens", json={"subdomain": "example", "app": app, "token": "my-token"}
        ).status_code
        == 409
    )
    bad = kt.admin(
        "POST", "tokens", json={"subdomain": "example", "app": app, "permissions": ["fly"]}
    )
    assert bad.status_code == 400
    missing_app = kt.admin("POST", "tokens", json={"subdomain": "example", "app": 99})
    assert missing_app.status_code == 404
    for _ in range(19):
        kt.token(app, "view")
    assert kt.admin("POST", "tokens", json={"subdomain": "example", "app": app}).status_code == 400
    generated = kt.token(kt.create_app({}))
    assert len(generated) == 40
    default_view = kt.api("GET", "records", token=generated, params={"app": 2})
    assert default_view.status_code == 200


def test_load_records_skips_business_rules_but_parses_formats(kt):
    app = kt.create_app(
        {
            "req": {"type": "SINGLE_LINE_TEXT", "required": True},
            "kind": {"type": "DROP_DOWN", "options": ["A"]},
            "n": {"type": "NUMBER", "maxValue": "10"},
            "owner": {"type": "USER_SELECT"},
            "calc": {"type": "CALC"},
        }
    )
    loaded = kt.admin(
        "POST",
        "records",
        json={
            "subdomain": "example",
            "app": app,
            "records": [
                {"req": {"value": ""}, "kind": {"value": "removed option"}, "n": {"value": "1e2"}},
                {
                    "owner": {"value": [{"code": "nobody"}]},
                    "calc": {"value": "42"},
                    "作成者": {"value": {"code": "someone"}},
                    "作成日時": {"value": "2020-05-06T07:08:00Z"},
                },
            ],
        },
    )
    assert loaded.json() == {"count": 2}
    first, second = kt.dump(app)
    assert first["req"]["value"] == "" and first["kind"]["value"] == "removed option"
    assert first["n"]["value"] == "100"
    assert second["owner"]["value"] == [{"code": "nobody", "name": "nobody"}]
    assert second["calc"]["value"] == "42"
    assert second["作成者"]["value"] == {"code": "someone", "name": "someone"}
    assert second["作成日時"]["value"] == "2020-05-06T07:08:00Z"
    assert second["更新日時"]["value"] == "2020-05-06T07:08:00Z"
    bad = kt.admin(
        "POST",
        "records",
        json={"subdomain": "example", "app": app, "records": [{}, {"n": {"value": "ten"}}]},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"records[1][n].value": ["Only numbers are allowed."]}
    assert len(kt.dump(app)) == 2


def test_change_fields_for_schema_drift(kt):
    app = kt.create_app(
        {
            "email": {"type": "SINGLE_LINE_TEXT", "label": "Mail"},
            "plan": {"type": "DROP_DOWN", "options": ["Free", "Pro"]},
            "gone": {"type": "NUMBER"},
        }
    )
    kt.load(app, [{"email": {"value": "a@x"}, "plan": {"value": "Pro"}, "gone": {"value": "1"}}])
    response = kt.admin(
        "PUT",
        "fields",
        json={
            "subdomain": "example",
            "app": app,
            "update": {
                "email": {
                    "label": "E-mail",
                    "required": True,
                    "unique": True,
                    "defaultValue": "none@x",
                },
                "plan": {"options": {"Free": {"label": "Free", "index": "0"}}},
            },
            "delete": ["gone"],
            "add": {"note": {"type": "MULTI_LINE_TEXT", "label": "Note"}},
        },
    )
    assert response.json() == {"revision": "2"}
    auth = kt.user("admin")
    for preview in (False, True):
        body = kt.api(
            "GET", "app/form/fields", auth=auth, preview=preview, params={"app": app}
        ).json()
        props = body["properties"]
        assert body["revision"] == "2"
        assert props["email"]["label"] == "E-mail" and props["email"]["unique"] is True
        assert props["email"]["defaultValue"] == "none@x"
        assert list(props["plan"]["options"]) == ["Free"]
        assert "gone" not in props and props["note"]["type"] == "MULTI_LINE_TEXT"
    record = kt.dump(app)[0]
    assert (
        "gone" not in record and record["plan"]["value"] == "Pro" and record["note"]["value"] == ""
    )
    renamed = kt.admin(
        "POST",
        "fields",
        json={"subdomain": "example", "app": app, "update": {"email": {"code": "mail"}}},
    )
    assert renamed.json() == {"revision": "3"}
    assert kt.dump(app)[0]["mail"]["value"] == "a@x"
    assert (
        kt.admin(
            "POST", "fields", json={"subdomain": "example", "app": app, "delete": ["nope"]}
        ).status_code
        == 404
    )
    assert (
        kt.admin(
            "POST", "fields", json={"subdomain": "example", "app": app, "update": {"nope": {}}}
        ).status_code
        == 404
    )
    assert (
        kt.admin(
            "POST", "fields", json={"subdomain": "example", "app": app, "delete": ["作成者"]}
        ).status_code
        == 400
    )


def test_config_validation_and_round_trip(kt):
    config = kt.config(now="2026-04-23T10:00:00+09:00", latency_ms=3, deploy_polls=0)
    assert config["now"] == "2026-04-23T01:00:00Z"
    assert (config["latency_ms"], config["deploy_polls"]) == (3, 0)
    assert kt.admin("POST", "config", json={"latency_ms": -1}).status_code == 400
    assert kt.admin("POST", "config", json={"now": "yesterday"}).status_code == 400
    assert kt.admin("POST", "config", json={"faults": [{"status": 500}]}).status_code == 400
    assert kt.admin("POST", "config", json={"language": "fr"}).status_code == 400
    assert kt.config(now=None)["now"] is None


def test_stats_across_subdomains(kt):
    first = kt.create_app({}, sub="one")
    second = kt.create_app({}, sub="two")
    kt.api(
        "GET", "records", sub="one", token=kt.token(first, "view", sub="one"), params={"app": first}
    )
    kt.api(
        "GET",
        "records",
        sub="two",
        token=kt.token(second, "view", sub="two"),
        params={"app": second},
    )
    everything = kt.admin("GET", "stats").json()
    assert everything["total"] == 2 and everything["calls"] == {"GET /k/v1/records.json": 2}
    assert kt.stats("one")["total"] == 1
    kt.admin("POST", "stats/reset", json={"subdomain": "one"})
    assert kt.stats("one")["total"] == 0 and kt.stats("two")["total"] == 1


def test_unknown_admin_endpoint_and_bad_body(kt):
    assert kt.admin("POST", "nothing").status_code == 404
    bad = kt.http.post(f"{kt.url}/_sandbox/apps", data="{", timeout=10)
    assert bad.status_code == 400 and "error" in bad.json()


def test_data_file_is_loaded_at_start_and_on_reset(tmp_path):
    data = {
        "users": [{"subdomain": "demo", "code": "taro", "name": "Taro", "password": "pw"}],
        "apps": [
            {
                "subdomain": "demo",
                "app": 5,
                "name": "Customers",
                "fields": {"mail": {"type": "SINGLE_LINE_TEXT"}},
            }
        ],
        "tokens": [{"subdomain": "demo", "app": 5, "permissions": ["view"], "token": "demo-token"}],
        "records": [
            {"subdomain": "demo", "app": 5, "records": [{"mail": {"value": "a@example.jp"}}]}
        ],
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    server = serve_in_thread(create_app(data_file=str(path)))
    try:
        with requests.Session() as http:
            url = f"{server.url}/demo/k/v1/records.json"
            first = http.get(
                url, params={"app": 5}, headers={"X-Cybozu-API-Token": "demo-token"}, timeout=10
            )
            assert [r["mail"]["value"] for r in first.json()["records"]] == ["a@example.jp"]
            http.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
            again = http.get(
                url, params={"app": 5}, headers={"X-Cybozu-API-Token": "demo-token"}, timeout=10
            )
            assert len(again.json()["records"]) == 1
    finally:
        server.stop()
