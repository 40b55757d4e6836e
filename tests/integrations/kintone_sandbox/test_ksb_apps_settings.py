"""App APIs, form settings, preview vs live and deploy (spec §3.2, §9.7, §12.10)."""

from __future__ import annotations

import pytest


@pytest.fixture
def auth(kt):
    return kt.user("admin", name="Admin")


def _fields(kt, auth, app, preview=False):
    response = kt.api("GET", "app/form/fields", auth=auth, preview=preview, params={"app": app})
    assert response.status_code == 200, response.text
    return response.json()


def _deploy(kt, auth, *apps, **extra):
    body = {"apps": [{"app": a} for a in apps], **extra}
    response = kt.api("POST", "app/deploy", preview=True, auth=auth, json=body)
    assert response.status_code == 200, response.text


def _status(kt, auth, app):
    return kt.api("GET", "app/deploy", preview=True, auth=auth, params={"apps[0]": app}).json()[
        "apps"
    ][0]["status"]


def test_app_json_shape(kt, auth):
    kt.config(now="2026-03-01T09:30:00Z")
    app = kt.create_app({}, name="Customers", code="CUST", description="desc", space=4)
    token = kt.token(app, "add")
    info = kt.api("GET", "app", token=token, params={"id": app}).json()
    assert info == {
        "appId": str(app),
        "code": "CUST",
        "name": "Customers",
        "description": "desc",
        "spaceId": "4",
        "threadId": None,
        "createdAt": "2026-03-01T09:30:00Z",
        "creator": {"code": "Administrator", "name": "Administrator"},
        "modifiedAt": "2026-03-01T09:30:00Z",
        "modifier": {"code": "Administrator", "name": "Administrator"},
    }
    missing = kt.api("GET", "app", auth=auth, params={"id": 77})
    assert kt.error_of(missing) == (404, "GAIA_AP01")


def test_apps_json_filters_and_pages(kt, auth):
    for name, code in [("Customers", "C"), ("Orders", "O"), ("customer archive", "")]:
        kt.create_app({}, name=name, code=code)

    def names(**params):
        response = kt.api("GET", "apps", auth=auth, params=params)
        assert response.status_code == 200
        return [a["name"] for a in response.json()["apps"]]

    assert names() == ["Customers", "Orders", "customer archive"]
    assert names(name="CUSTOMER") == ["Customers", "customer archive"]
    assert names(**{"ids[0]": 2}) == ["Orders"]
    assert names(**{"codes[0]": "C"}) == ["Customers"]
    assert names(limit=1, offset=1) == ["Orders"]
    assert kt.error_of(kt.api("GET", "apps", auth=auth, params={"limit": 101})) == (400, "CB_VA01")


def test_fields_json_lists_system_fields_with_kintone_defaults(kt, auth):
    app = kt.create_app(
        {
            "sku": {"type": "SINGLE_LINE_TEXT", "label": "SKU"},
            "kind": {"type": "DROP_DOWN", "options": ["A", "B"]},
        }
    )
    body = _fields(kt, auth, app)
    props = body["properties"]
    assert body["revision"] == "1"
    assert props["sku"] == {
        "type": "SINGLE_LINE_TEXT",
        "code": "sku",
        "label": "SKU",
        "noLabel": False,
        "required": False,
        "unique": False,
        "minLength": "",
        "maxLength": "",
        "expression": "",
        "hideExpression": False,
        "defaultValue": "",
    }
    assert props["kind"]["options"] == {
        "A": {"label": "A", "index": "0"},
        "B": {"label": "B", "index": "1"},
    }
    assert props["ステータス"] == {
        "type": "STATUS",
        "code": "ステータス",
        "label": "ステータス",
        "enabled": False,
    }
    assert {p["type"] for p in props.values()} >= {
        "RECORD_NUMBER",
        "CREATOR",
        "CREATED_TIME",
        "MODIFIER",
        "UPDATED_TIME",
        "STATUS",
        "STATUS_ASSIGNEE",
        "CATEGORY",
    }
    assert "$id" not in props
    assert kt.error_of(
        kt.api("GET", "app/form/fields", auth=auth, params={"app": app, "lang": "fr"})
    ) == (
        400,
        "CB_VA01",
    )


def test_preview_changes_are_invisible_until_deploy(kt, auth):
    app = kt.create_app({"title": {"type": "SINGLE_LINE_TEXT"}})
    token = kt.token(app, "view", "add", "manage")
    added = kt.api(
        "POST",
        "app/form/fields",
        preview=True,
        token=token,
        json={
            "app": app,
            "properties": {"score": {"type": "NUMBER", "code": "score", "label": "Score"}},
        },
    )
    assert added.json() == {"revision": "2"}
    assert "score" in _fields(kt, auth, app, preview=True)["properties"]
    assert "score" not in _fields(kt, auth, app)["properties"]
    query = kt.api("GET", "records", token=token, params={"app": app, "query": "score > 1"})
    assert kt.error_of(query) == (400, "GAIA_IQ11")
    _deploy(kt, auth, app)
    assert _status(kt, auth, app) == "PROCESSING"
    assert _status(kt, auth, app) == "SUCCESS"
    live = _fields(kt, auth, app)
    assert live["revision"] == "2" and "score" in live["properties"]
    assert (
        kt.api(
            "POST", "record", token=token, json={"app": app, "record": {"score": {"value": "5"}}}
        ).status_code
        == 200
    )


def test_update_rename_and_delete_fields_in_preview(kt, auth):
    app = kt.create_app(
        {
            "title": {"type": "SINGLE_LINE_TEXT", "label": "Title"},
            "kind": {"type": "RADIO_BUTTON", "options": ["A", "B"]},
            "items": {"type": "SUBTABLE", "fields": {"item": {"type": "SINGLE_LINE_TEXT"}}},
        }
    )
    kt.load(app, [{"title": {"value": "kept"}}])
    changed = kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={
            "app": app,
            "properties": {
                "title": {"code": "name", "label": "Name", "required": True},
                "kind": {"options": {"A": {"label": "A", "index": "0"}}},
                "items": {"fields": {"qty": {"type": "NUMBER", "code": "qty"}}},
            },
        },
    )
    assert changed.json() == {"revision": "2"}
    removed = kt.api(
        "DELETE", "app/form/fields", preview=True, auth=auth, json={"app": app, "fields": ["item"]}
    )
    assert removed.json() == {"revision": "3"}
    props = _fields(kt, auth, app, preview=True)["properties"]
    assert (
        "title" not in props
        and props["name"]["label"] == "Name"
        and props["name"]["required"] is True
    )
    assert list(props["kind"]["options"]) == ["A"]
    assert list(props["items"]["fields"]) == ["qty"]
    _deploy(kt, auth, app)
    record = kt.api("GET", "record", auth=auth, params={"app": app, "id": 1}).json()["record"]
    assert record["name"]["value"] == "kept"  # a rename keeps the data
    assert "title" not in record


def test_field_setting_errors(kt, auth):
    app = kt.create_app({"title": {"type": "SINGLE_LINE_TEXT"}})

    def add(props, **extra):
        return kt.api(
            "POST",
            "app/form/fields",
            preview=True,
            auth=auth,
            json={"app": app, "properties": props, **extra},
        )

    dup = add({"title": {"type": "SINGLE_LINE_TEXT", "code": "title"}})
    assert dup.json()["errors"] == {
        "properties[title].code": {"messages": ["The field code is already used."]}
    }
    bad_code = add({"1abc": {"type": "NUMBER", "code": "1abc"}})
    assert list(bad_code.json()["errors"]) == ["properties[1abc].code"]
    bad_type = add({"x": {"type": "SPINNER", "code": "x"}})
    assert list(bad_type.json()["errors"]) == ["properties[x].type"]
    option = add(
        {"d": {"type": "DROP_DOWN", "code": "d", "options": {"A": {"label": "B", "index": "0"}}}}
    )
    assert kt.error_of(option) == (400, "CB_VA01")
    stale = add({"ok": {"type": "NUMBER", "code": "ok"}}, revision=9)
    assert kt.error_of(stale) == (409, "GAIA_CO02")
    unknown = kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "properties": {"nope": {}}},
    )
    assert kt.error_of(unknown) == (400, "GAIA_FC01")
    system = kt.api(
        "DELETE",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "fields": ["レコード番号"]},
    )
    assert kt.error_of(system) == (400, "CB_VA01")
    retype = kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "properties": {"title": {"type": "NUMBER"}}},
    )
    assert kt.error_of(retype) == (400, "CB_VA01")
    view_token = kt.token(app, "view")
    denied = kt.api("GET", "app/form/fields", preview=True, token=view_token, params={"app": app})
    assert kt.error_of(denied) == (403, "GAIA_NO01")


def test_layout_default_custom_and_deploy(kt, auth):
    app = kt.create_app(
        {
            "title": {"type": "SINGLE_LINE_TEXT"},
            "memo": {"type": "MULTI_LINE_TEXT"},
            "items": {"type": "SUBTABLE", "fields": {"item": {"type": "SINGLE_LINE_TEXT"}}},
        }
    )
    layout = kt.api("GET", "app/form/layout", auth=auth, params={"app": app}).json()
    assert layout["revision"] == "1"
    assert layout["layout"] == [
        {
            "type": "ROW",
            "fields": [{"type": "SINGLE_LINE_TEXT", "code": "title", "size": {"width": "193"}}],
        },
        {
            "type": "ROW",
            "fields": [
                {
                    "type": "MULTI_LINE_TEXT",
                    "code": "memo",
                    "size": {"width": "315", "innerHeight": "125"},
                }
            ],
        },
        {
            "type": "SUBTABLE",
            "code": "items",
            "fields": [{"type": "SINGLE_LINE_TEXT", "code": "item", "size": {"width": "193"}}],
        },
    ]
    custom = [
        {
            "type": "ROW",
            "fields": [
                {"type": "LABEL", "label": "Head", "size": {"width": "100"}},
                {"type": "SINGLE_LINE_TEXT", "code": "title", "size": {"width": "300"}},
            ],
        },
        {
            "type": "SUBTABLE",
            "code": "items",
            "fields": [{"type": "SINGLE_LINE_TEXT", "code": "item", "size": {"width": "193"}}],
        },
    ]
    put = kt.api(
        "PUT", "app/form/layout", preview=True, auth=auth, json={"app": app, "layout": custom}
    )
    assert put.json() == {"revision": "2"}
    preview = kt.api("GET", "app/form/layout", preview=True, auth=auth, params={"app": app}).json()
    assert preview["layout"][:2] == custom
    assert preview["layout"][2]["fields"][0]["code"] == "memo"  # unplaced fields are appended
    assert (
        kt.api("GET", "app/form/layout", auth=auth, params={"app": app}).json()["revision"] == "1"
    )
    _deploy(kt, auth, app)
    assert (
        kt.api("GET", "app/form/layout", auth=auth, params={"app": app}).json()["layout"][:2]
        == custom
    )


def test_deploy_fails_when_records_break_a_new_unique_rule(kt, auth):
    app = kt.create_app({"sku": {"type": "SINGLE_LINE_TEXT"}})
    second = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.load(app, [{"sku": {"value": "A"}}, {"sku": {"value": "A"}}])
    kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "properties": {"sku": {"unique": True}}},
    )
    kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": second, "properties": {"t": {"label": "T2"}}},
    )
    _deploy(kt, auth, app, second)
    assert _status(kt, auth, app) == "PROCESSING"
    assert _status(kt, auth, app) == "FAIL"
    assert _status(kt, auth, second) == "PROCESSING"
    assert _status(kt, auth, second) == "CANCEL"
    assert _fields(kt, auth, app)["properties"]["sku"]["unique"] is False
    assert _fields(kt, auth, second)["properties"]["t"]["label"] == "t"


def test_making_a_field_required_deploys_and_keeps_old_blanks(kt, auth):
    app = kt.create_app({"a": {"type": "SINGLE_LINE_TEXT"}, "b": {"type": "SINGLE_LINE_TEXT"}})
    kt.load(app, [{"a": {"value": "x"}}])
    kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "properties": {"b": {"required": True}}},
    )
    _deploy(kt, auth, app)
    _status(kt, auth, app)
    assert _status(kt, auth, app) == "SUCCESS"
    assert kt.dump(app)[0]["b"]["value"] == ""
    put = kt.api(
        "PUT", "record", auth=auth, json={"app": app, "id": 1, "record": {"a": {"value": "y"}}}
    )
    assert put.json()["errors"] == {"record.b.value": {"messages": ["Required."]}}


def test_revert_discards_preview_changes(kt, auth):
    app = kt.create_app({"a": {"type": "SINGLE_LINE_TEXT"}})
    kt.api(
        "POST",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={"app": app, "properties": {"z": {"type": "NUMBER", "code": "z"}}},
    )
    _deploy(kt, auth, app, revert=True)
    assert "z" not in _fields(kt, auth, app, preview=True)["properties"]
    assert "z" not in _fields(kt, auth, app)["properties"]


def test_deploy_revision_mismatch_and_token_permissions(kt, auth):
    app = kt.create_app({"a": {"type": "SINGLE_LINE_TEXT"}})
    stale = kt.api(
        "POST", "app/deploy", preview=True, auth=auth, json={"apps": [{"app": app, "revision": 5}]}
    )
    assert kt.error_of(stale) == (409, "GAIA_CO02")
    view = kt.token(app, "view")
    denied = kt.api("POST", "app/deploy", preview=True, token=view, json={"apps": [{"app": app}]})
    assert kt.error_of(denied) == (403, "GAIA_NO01")
    manage = kt.token(app, "manage")
    assert (
        kt.api(
            "POST", "app/deploy", preview=True, token=manage, json={"apps": [{"app": app}]}
        ).status_code
        == 200
    )


def test_created_app_bootstrap_with_layout_and_name_rules(kt, auth):
    assert kt.error_of(kt.api("POST", "app", preview=True, auth=auth, json={})) == (400, "CB_VA01")
    long_name = kt.api("POST", "app", preview=True, auth=auth, json={"name": "x" * 65})
    assert kt.error_of(long_name) == (400, "CB_VA01")
    app = kt.api("POST", "app", preview=True, auth=auth, json={"name": "New"}).json()["app"]
    props = _fields(kt, auth, app, preview=True)["properties"]
    assert {p["type"] for p in props.values()} >= {"RECORD_NUMBER", "CREATOR", "UPDATED_TIME"}
    assert kt.error_of(kt.api("GET", "app", auth=auth, params={"id": app})) == (404, "GAIA_AP01")
    assert _status(kt, auth, app) == "SUCCESS"
    _deploy(kt, auth, app)
    info = kt.api("GET", "app", auth=auth, params={"id": app}).json()
    assert info["name"] == "New" and info["creator"] == {"code": "admin", "name": "Admin"}


def test_table_inner_fields_can_be_changed_renamed_and_removed(kt, auth):
    app = kt.create_app(
        {
            "items": {
                "type": "SUBTABLE",
                "fields": {"a": {"type": "SINGLE_LINE_TEXT"}, "b": {"type": "NUMBER"}},
            }
        }
    )
    kt.load(app, [{"items": {"value": [{"value": {"a": {"value": "x"}, "b": {"value": "1"}}}]}}])
    kt.api(
        "PUT",
        "app/form/fields",
        preview=True,
        auth=auth,
        json={
            "app": app,
            "properties": {
                "items": {"fields": {"a": {"code": "alpha", "label": "Alpha", "required": True}}}
            },
        },
    )
    kt.api("DELETE", "app/form/fields", preview=True, auth=auth, json={"app": app, "fields": ["b"]})
    _deploy(kt, auth, app)
    inner = _fields(kt, auth, app)["properties"]["items"]["fields"]
    assert (
        list(inner) == ["alpha"]
        and inner["alpha"]["label"] == "Alpha"
        and inner["alpha"]["required"] is True
    )
    row = kt.dump(app)[0]["items"]["value"][0]["value"]
    assert row == {"alpha": {"type": "SINGLE_LINE_TEXT", "value": "x"}}
