"""Field types: write/read formats and validation rules (spec §4, §2.2, §12.7, §12.8)."""

from __future__ import annotations

import pytest


def _post(kt, app, token, record):
    return kt.api("POST", "record", token=token, json={"app": app, "record": record})


def _get(kt, app, token, rec_id=1):
    return kt.api("GET", "record", token=token, params={"app": app, "id": rec_id}).json()["record"]


def _errors(response) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "CB_VA01"
    return {path: value["messages"] for path, value in body["errors"].items()}


@pytest.fixture
def simple(kt):
    def make(fields: dict, *permissions: str):
        app = kt.create_app(fields)
        perms = permissions or ("view", "add", "edit", "delete")
        return app, kt.token(app, *perms)

    return make


# -- text --------------------------------------------------------------------------------------------


def test_text_length_limits_use_kintone_messages(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT", "maxLength": "5", "minLength": "2"}})
    assert _errors(_post(kt, app, token, {"t": {"value": "123456"}})) == {
        "record.t.value": ["Enter less than 6 characters."]
    }
    assert _errors(_post(kt, app, token, {"t": {"value": "1"}})) == {
        "record.t.value": ["Enter more than 1 characters."]
    }
    assert _post(kt, app, token, {"t": {"value": ""}}).status_code == 200
    assert _post(kt, app, token, {"t": {"value": "12345"}}).status_code == 200


def test_text_types_store_strings_and_numbers_as_text(kt, full_app):
    app, token = full_app
    record = {
        "title": {"value": 12},
        "memo": {"value": "line1\nline2"},
        "rich": {"value": "<b>bold</b>"},
        "site": {"value": "https://example.com/a"},
        "mail": {"value": "a@example.com"},
    }
    assert _post(kt, app, token, record).status_code == 200
    got = _get(kt, app, token)
    assert got["title"] == {"type": "SINGLE_LINE_TEXT", "value": "12"}
    assert got["memo"] == {"type": "MULTI_LINE_TEXT", "value": "line1\nline2"}
    assert got["rich"] == {"type": "RICH_TEXT", "value": "<b>bold</b>"}
    assert got["site"] == {"type": "LINK", "value": "https://example.com/a"}
    assert got["mail"]["value"] == "a@example.com"


def test_link_formats_are_checked(kt, full_app):
    app, token = full_app
    errors = _errors(
        _post(kt, app, token, {"mail": {"value": "not-an-address"}, "site": {"value": "a b"}})
    )
    assert errors == {
        "record.mail.value": ["Enter a valid email address."],
        "record.site.value": ["Enter a valid URL."],
    }


def test_wrong_json_shape_is_refused(kt, full_app):
    app, token = full_app
    errors = _errors(_post(kt, app, token, {"title": {"value": {"x": 1}}, "tags": {"value": "a"}}))
    assert errors == {
        "record.title.value": ["The value is invalid."],
        "record.tags.values": ["The value is invalid."],
    }


# -- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("1.5e1", "15"),
        (" 42 ", "42"),
        (7, "7"),
        (2.5, "2.5"),
        ("-0.50", "-0.50"),
        ("+3", "3"),
        ("", ""),
        (None, ""),
    ],
)
def test_number_normalization(kt, simple, sent, stored):
    app, token = simple({"n": {"type": "NUMBER"}})
    assert _post(kt, app, token, {"n": {"value": sent}}).status_code == 200
    assert _get(kt, app, token)["n"] == {"type": "NUMBER", "value": stored}


@pytest.mark.parametrize("sent", ["abc", "12abc", "1,000", True])
def test_unparsable_number_uses_the_bracket_key(kt, simple, sent):
    app, token = simple({"n": {"type": "NUMBER"}})
    assert _errors(_post(kt, app, token, {"n": {"value": sent}})) == {
        "record[n].value": ["Only numbers are allowed."]
    }


def test_number_range_and_digits(kt, simple):
    app, token = simple({"n": {"type": "NUMBER", "minValue": "10", "maxValue": "100"}})
    assert _errors(_post(kt, app, token, {"n": {"value": "150"}})) == {
        "record.n.value": ["The value must be 100 or less."]
    }
    assert _errors(_post(kt, app, token, {"n": {"value": "5"}})) == {
        "record.n.value": ["The value must be 10 or more."]
    }
    assert _errors(_post(kt, app, token, {"n": {"value": "1" * 31}})) == {
        "record.n.value": ["Numbers can have up to 30 digits."]
    }
    assert _post(kt, app, token, {"n": {"value": ""}}).status_code == 200


def test_calc_is_not_writable_and_is_computed(kt, full_app):
    app, token = full_app
    assert _errors(_post(kt, app, token, {"total": {"value": "5"}})) == {
        "record.total.value": ["This field cannot be updated."]
    }
    assert _post(kt, app, token, {}).status_code == 200
    # qty*2 with qty blank: a blank operand counts as 0 (see calc.py).
    assert _get(kt, app, token)["total"] == {"type": "CALC", "value": "0"}


# -- selections ------------------------------------------------------------------------------------------


def test_option_membership(kt, full_app):
    app, token = full_app
    errors = _errors(
        _post(
            kt,
            app,
            token,
            {
                "tags": {"value": ["a", "zz"]},
                "multi": {"value": ["q"]},
                "color": {"value": "green"},
                "kind": {"value": "C"},
            },
        )
    )
    assert errors == {
        "record.tags.values[1].value": ['The value, "zz", is not in options.'],
        "record.multi.values[0].value": ['The value, "q", is not in options.'],
        "record.color.value": ['The value, "green", is not in options.'],
        "record.kind.value": ['The value, "C", is not in options.'],
    }


def test_selection_defaults_and_empties(kt, full_app):
    app, token = full_app
    assert _post(kt, app, token, {"kind": {"value": ""}}).status_code == 200
    got = _get(kt, app, token)
    assert got["kind"] == {"type": "DROP_DOWN", "value": None}
    assert got["color"] == {"type": "RADIO_BUTTON", "value": "red"}  # first option preselected
    assert got["tags"] == {"type": "CHECK_BOX", "value": []}
    assert got["multi"] == {"type": "MULTI_SELECT", "value": []}


# -- dates and times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("due", "2015", "2015-01-01"),
        ("due", "2015-07", "2015-07-01"),
        ("due", "2015-7-5", "2015-07-05"),
        ("due", "", None),
        ("at", "9:05", "09:05"),
        ("at", "09:05:30", "09:05"),
        ("at", None, None),
        ("when", "2026-04-23T23:11:45+09:00", "2026-04-23T14:11:00Z"),
        ("when", "2026-04-23T14:11Z", "2026-04-23T14:11:00Z"),
        ("when", "2026-04-23T14:11:59.123Z", "2026-04-23T14:11:00Z"),
        ("when", "2026-04-23", "2026-04-23T00:00:00Z"),
        ("when", "2026-04-23T05:00:00-0300", "2026-04-23T08:00:00Z"),
        ("when", "", ""),
    ],
)
def test_temporal_normalization(kt, full_app, field, sent, stored):
    app, token = full_app
    assert _post(kt, app, token, {field: {"value": sent}}).status_code == 200
    assert _get(kt, app, token)[field]["value"] == stored


@pytest.mark.parametrize(
    ("field", "sent", "message"),
    [
        ("due", "2026-02-30", "Invalid date format."),
        ("due", "yesterday", "Invalid date format."),
        ("due", "0999-01-01", "Specify a date between 1000-01-01 and 9999-12-31."),
        ("at", "25:00", "Invalid time format."),
        ("at", "noon", "Invalid time format."),
        ("when", "2026-04-23T25:00Z", "Invalid date and time format."),
        ("when", 1234, "Invalid date and time format."),
    ],
)
def test_temporal_format_errors(kt, full_app, field, sent, message):
    app, token = full_app
    assert _errors(_post(kt, app, token, {field: {"value": sent}})) == {
        f"record.{field}.value": [message]
    }


# -- users, organizations, groups -----------------------------------------------------------------------------


def test_entity_fields(kt, full_app):
    app, token = full_app
    kt.user("bob", name="Bob")
    response = _post(
        kt,
        app,
        token,
        {
            "owner": {"value": [{"code": "bob"}]},
            "org": {"value": [{"code": "sales"}]},
            "team": {"value": [{"code": "everyone"}]},
        },
    )
    assert response.status_code == 200
    got = _get(kt, app, token)
    assert got["owner"]["value"] == [{"code": "bob", "name": "Bob"}]
    assert got["org"] == {
        "type": "ORGANIZATION_SELECT",
        "value": [{"code": "sales", "name": "sales"}],
    }
    assert got["team"] == {
        "type": "GROUP_SELECT",
        "value": [{"code": "everyone", "name": "everyone"}],
    }


def test_unknown_user_is_gaia_il26(kt, full_app):
    app, token = full_app
    response = _post(kt, app, token, {"owner": {"value": [{"code": "ghost"}]}})
    assert kt.error_of(response) == (400, "GAIA_IL26")


# -- files -----------------------------------------------------------------------------------------------------


def _upload(kt, token, name="a.txt", data=b"hello file", ctype="text/plain") -> str:
    response = kt.api("POST", "file", token=token, files={"file": (name, data, ctype)})
    assert response.status_code == 200
    return response.json()["fileKey"]


def test_file_upload_attach_download_and_keep(kt, full_app):
    app, token = full_app
    temp = _upload(kt, token)
    assert _post(kt, app, token, {"files": {"value": [{"fileKey": temp}]}}).status_code == 200
    entry = _get(kt, app, token)["files"]["value"][0]
    assert (
        entry["name"] == "a.txt" and entry["contentType"] == "text/plain" and entry["size"] == "10"
    )
    assert entry["fileKey"] != temp
    download = kt.api("GET", "file", token=token, params={"fileKey": entry["fileKey"]})
    assert download.status_code == 200
    assert download.content == b"hello file" and download.headers["Content-Type"].startswith(
        "text/plain"
    )
    # A temporary key is single-use.
    assert kt.error_of(_post(kt, app, token, {"files": {"value": [{"fileKey": temp}]}})) == (
        404,
        "GAIA_BL01",
    )
    second = _upload(kt, token, "b.csv", b"x,y", "text/csv")
    update = kt.api(
        "PUT",
        "record",
        token=token,
        json={
            "app": app,
            "id": 1,
            "record": {"files": {"value": [{"fileKey": entry["fileKey"]}, {"fileKey": second}]}},
        },
    )
    assert update.status_code == 200
    names = [f["name"] for f in _get(kt, app, token)["files"]["value"]]
    assert names == ["a.txt", "b.csv"]
    kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"files": {"value": []}}}
    )
    assert _get(kt, app, token)["files"]["value"] == []


def test_missing_file_key_download_is_gaia_bl01(kt, full_app):
    _app, token = full_app
    response = kt.api("GET", "file", token=token, params={"fileKey": "nope"})
    assert kt.error_of(response) == (404, "GAIA_BL01")
    assert response.json()["message"] == "The specified file (id: nope) not found."


# -- required ------------------------------------------------------------------------------------------------------


REQUIRED_FIELDS = {
    "text": {"type": "SINGLE_LINE_TEXT", "required": True},
    "num": {"type": "NUMBER", "required": True},
    "check": {"type": "CHECK_BOX", "required": True, "options": ["a"]},
    "user": {"type": "USER_SELECT", "required": True},
    "file": {"type": "FILE", "required": True},
    "drop": {"type": "DROP_DOWN", "required": True, "options": ["a"]},
    "radio": {"type": "RADIO_BUTTON", "required": True, "options": ["a"]},
    "calc": {"type": "CALC", "required": True},
}
REQUIRED_ERRORS = {
    "record.text.value": ["Required."],
    "record.num.value": ["Required."],
    "record.check.values": ["Required."],
    "record.user.values.value": ["Required."],
    "record.file.values": ["Required."],
    "record.drop.value": ["Required."],
}


@pytest.mark.parametrize("empty", ["absent", "null", "blank"])
def test_required_fails_for_every_kind_of_empty(kt, simple, empty):
    app, token = simple(REQUIRED_FIELDS)
    record = {}
    if empty != "absent":
        for code in ("text", "num", "drop"):
            record[code] = {"value": None if empty == "null" else ""}
        for code in ("check", "user", "file"):
            record[code] = {"value": None if empty == "null" else []}
    assert _errors(_post(kt, app, token, record)) == REQUIRED_ERRORS


def test_put_validates_the_merged_record(kt, simple):
    app, token = simple({"a": {"type": "SINGLE_LINE_TEXT"}, "b": {"type": "SINGLE_LINE_TEXT"}})
    kt.load(app, [{"a": {"value": "x"}}])
    kt.admin(
        "POST",
        "fields",
        json={"subdomain": "example", "app": app, "update": {"b": {"required": True}}},
    )
    put = kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"a": {"value": "y"}}}
    )
    assert _errors(put) == {"record.b.value": ["Required."]}
    fixed = kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"b": {"value": "z"}}}
    )
    assert fixed.status_code == 200


# -- unique -------------------------------------------------------------------------------------------------------


def test_unique_rules(kt, simple):
    app, token = simple(
        {
            "sku": {"type": "SINGLE_LINE_TEXT", "unique": True},
            "n": {"type": "NUMBER", "unique": True},
        }
    )
    assert _post(kt, app, token, {"sku": {"value": "A"}, "n": {"value": "1"}}).status_code == 200
    assert _errors(_post(kt, app, token, {"sku": {"value": "A"}, "n": {"value": "1.0"}})) == {
        "record.sku.value": ["This value already exists in another record."],
        "record.n.value": ["This value already exists in another record."],
    }
    # Blank never conflicts.
    assert _post(kt, app, token, {"sku": {"value": ""}}).status_code == 200
    assert _post(kt, app, token, {"sku": {"value": ""}}).status_code == 200
    # Updating a record to its own value is fine; to another record's value is not.
    same = kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"sku": {"value": "A"}}}
    )
    assert same.status_code == 200
    clash = kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 2, "record": {"sku": {"value": "A"}}}
    )
    assert _errors(clash) == {"record.sku.value": ["This value already exists in another record."]}
    too_long = _post(kt, app, token, {"sku": {"value": "x" * 65}})
    assert list(_errors(too_long)) == ["record.sku.value"]


def test_unique_inside_one_batch_and_rollback(kt, simple):
    app, token = simple({"sku": {"type": "SINGLE_LINE_TEXT", "unique": True}})
    response = kt.api(
        "POST",
        "records",
        token=token,
        json={
            "app": app,
            "records": [{"sku": {"value": "A"}}, {"sku": {"value": "B"}}, {"sku": {"value": "A"}}],
        },
    )
    assert _errors(response) == {
        "records[2].sku.value": ["This value already exists in another record."]
    }
    assert kt.dump(app) == []
    ok = kt.api(
        "POST", "records", token=token, json={"app": app, "records": [{"sku": {"value": "A"}}]}
    )
    assert ok.json()["ids"] == ["1"]


def test_unique_flag_is_dropped_on_types_that_cannot_have_it(kt):
    app = kt.create_app(
        {"m": {"type": "MULTI_LINE_TEXT", "unique": True}, "d": {"type": "DATE", "unique": True}}
    )
    auth = kt.user("admin")
    props = kt.api("GET", "app/form/fields", auth=auth, params={"app": app}).json()["properties"]
    assert "unique" not in props["m"]
    assert props["d"]["unique"] is True


# -- defaults ------------------------------------------------------------------------------------------------------


DEFAULT_FIELDS = {
    "t": {"type": "SINGLE_LINE_TEXT", "defaultValue": "def"},
    "n": {"type": "NUMBER", "defaultValue": "42"},
    "c": {"type": "CHECK_BOX", "options": ["A", "B"], "defaultValue": ["A", "B"]},
    "d": {"type": "DATE", "defaultNowValue": True},
    "dd": {"type": "DATE", "defaultValue": "2020-01-15"},
    "tm": {"type": "TIME", "defaultNowValue": True},
    "dt": {"type": "DATETIME", "defaultNowValue": True},
    "u": {"type": "USER_SELECT", "defaultValue": [{"code": "LOGINUSER()", "type": "FUNCTION"}]},
    "req": {"type": "SINGLE_LINE_TEXT", "required": True, "defaultValue": "filled"},
}


def test_defaults_apply_on_post_when_the_key_is_absent(kt, simple):
    app, token = simple(DEFAULT_FIELDS)
    kt.config(now="2026-04-23T15:31:40Z")  # 00:31 on the 24th in Tokyo
    assert _post(kt, app, token, {}).status_code == 200
    got = _get(kt, app, token)
    assert got["t"]["value"] == "def"
    assert got["n"]["value"] == "42"
    assert got["c"]["value"] == ["A", "B"]
    assert got["d"]["value"] == "2026-04-24"
    assert got["dd"]["value"] == "2020-01-15"
    assert got["tm"]["value"] == "00:31"
    assert got["dt"]["value"] == "2026-04-23T15:31:00Z"
    assert got["u"]["value"] == [{"code": "Administrator", "name": "Administrator"}]
    assert got["req"]["value"] == "filled"


def test_explicit_empty_is_kept_and_put_never_applies_defaults(kt, simple):
    app, token = simple(DEFAULT_FIELDS)
    assert _errors(_post(kt, app, token, {"req": {"value": ""}})) == {
        "record.req.value": ["Required."]
    }
    assert _post(kt, app, token, {"t": {"value": ""}, "c": {"value": []}}).status_code == 200
    got = _get(kt, app, token)
    assert got["t"]["value"] == "" and got["c"]["value"] == []
    kt.admin(
        "POST",
        "fields",
        json={
            "subdomain": "example",
            "app": app,
            "add": {"late": {"type": "SINGLE_LINE_TEXT", "defaultValue": "zz"}},
        },
    )
    kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 1, "record": {"t": {"value": "x"}}}
    )
    assert _get(kt, app, token)["late"]["value"] == ""


# -- system and non-writable fields -----------------------------------------------------------------------------------


def test_record_number_and_status_fields_are_not_writable(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    errors = _errors(_post(kt, app, token, {"レコード番号": {"value": "5"}}))
    assert errors == {"record.レコード番号.value": ["This field cannot be updated."]}


def test_unknown_codes_and_id_keys_are_ignored(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    record = {
        "t": {"value": "x"},
        "nope": {"value": "y"},
        "$id": {"value": "9"},
        "$revision": {"value": "4"},
    }
    assert _post(kt, app, token, record).json() == {"id": "1", "revision": "1"}


def test_creator_and_times_need_app_management_and_only_on_add(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.user("carol", name="Carol")
    manage = kt.token(app, "add", "edit", "manage")
    system = {
        "作成者": {"value": {"code": "carol"}},
        "作成日時": {"value": "2020-01-02T03:04:05Z"},
        "更新日時": {"value": "2020-01-03T00:00:00+09:00"},
    }
    denied = _post(kt, app, token, system)
    assert set(_errors(denied)) == {
        "record.作成者.value",
        "record.作成日時.value",
        "record.更新日時.value",
    }
    assert _post(kt, app, manage, system).status_code == 200
    got = _get(kt, app, token)
    assert got["作成者"]["value"] == {"code": "carol", "name": "Carol"}
    assert got["更新者"]["value"] == {"code": "carol", "name": "Carol"}
    assert got["作成日時"]["value"] == "2020-01-02T03:04:00Z"
    assert got["更新日時"]["value"] == "2020-01-02T15:00:00Z"
    put = kt.api(
        "PUT",
        "record",
        token=manage,
        json={"app": app, "id": 1, "record": {"作成日時": {"value": "2021-01-01T00:00:00Z"}}},
    )
    assert _errors(put) == {"record.作成日時.value": ["This field cannot be updated."]}


def test_update_maintains_modifier_time_and_revision(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.config(now="2026-01-01T00:00:00Z")
    _post(kt, app, token, {"t": {"value": "a"}})
    auth = kt.user("dave", name="Dave")
    kt.config(now="2026-01-02T10:20:30Z")
    put = kt.api(
        "PUT", "record", auth=auth, json={"app": app, "id": 1, "record": {"t": {"value": "b"}}}
    )
    assert put.json() == {"revision": "2"}
    got = _get(kt, app, token)
    assert got["$revision"]["value"] == "2"
    assert got["更新者"]["value"] == {"code": "dave", "name": "Dave"}
    assert got["更新日時"]["value"] == "2026-01-02T10:20:00Z"
    assert got["作成日時"]["value"] == "2026-01-01T00:00:00Z"
    assert got["作成者"]["value"]["code"] == "Administrator"


def test_record_number_carries_the_app_code(kt):
    app = kt.create_app({"t": {"type": "SINGLE_LINE_TEXT"}}, code="ORD")
    token = kt.token(app, "add", "view")
    _post(kt, app, token, {})
    assert _get(kt, app, token)["レコード番号"]["value"] == "ORD-1"


# -- revisions ------------------------------------------------------------------------------------------------------


def test_revision_checks_and_conflicts(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    kt.load(app, [{"t": {"value": "a"}}, {"t": {"value": "b"}}])

    def put(records):
        return kt.api("PUT", "records", token=token, json={"app": app, "records": records})

    assert put([{"id": 1, "revision": 1, "record": {"t": {"value": "a2"}}}]).json() == {
        "records": [{"id": "1", "revision": "2"}]
    }
    assert put([{"id": 1, "revision": -1, "record": {}}]).json()["records"][0]["revision"] == "3"
    assert put([{"id": 1, "revision": "3"}]).json()["records"][0]["revision"] == "4"
    conflict = put(
        [
            {"id": 2, "revision": 1, "record": {"t": {"value": "b2"}}},
            {"id": 1, "revision": 1, "record": {}},
        ]
    )
    assert kt.error_of(conflict) == (409, "GAIA_CO02")
    assert [r["t"]["value"] for r in kt.dump(app)] == ["a2", "b"]
    delete = kt.api(
        "DELETE", "records", token=token, json={"app": app, "ids": [1, 2], "revisions": [4, 9]}
    )
    assert kt.error_of(delete) == (409, "GAIA_CO02")
    assert len(kt.dump(app)) == 2
    single = kt.api(
        "PUT", "record", token=token, json={"app": app, "id": 2, "revision": 7, "record": {}}
    )
    assert kt.error_of(single) == (409, "GAIA_CO02")


def test_update_by_key_and_its_errors(kt, simple):
    app, token = simple(
        {
            "sku": {"type": "SINGLE_LINE_TEXT", "unique": True},
            "name": {"type": "SINGLE_LINE_TEXT"},
            "n": {"type": "NUMBER", "unique": True},
        }
    )
    kt.load(app, [{"sku": {"value": "S1"}, "n": {"value": "7"}}])
    by_key = kt.api(
        "PUT",
        "record",
        token=token,
        json={
            "app": app,
            "updateKey": {"field": "sku", "value": "S1"},
            "record": {"name": {"value": "x"}},
        },
    )
    assert by_key.json() == {"revision": "2"}
    by_number = kt.api(
        "PUT",
        "record",
        token=token,
        json={
            "app": app,
            "updateKey": {"field": "n", "value": 7.0},
            "record": {"name": {"value": "y"}},
        },
    )
    assert by_number.json() == {"revision": "3"}
    missing = kt.api(
        "PUT",
        "record",
        token=token,
        json={"app": app, "updateKey": {"field": "sku", "value": "S9"}, "record": {}},
    )
    assert kt.error_of(missing) == (404, "GAIA_RE01")
    not_unique = kt.api(
        "PUT",
        "record",
        token=token,
        json={"app": app, "updateKey": {"field": "name", "value": "x"}, "record": {}},
    )
    assert list(_errors(not_unique)) == ["updateKey.field"]
    both = kt.api(
        "PUT",
        "record",
        token=token,
        json={"app": app, "id": 1, "updateKey": {"field": "sku", "value": "S1"}},
    )
    assert list(_errors(both)) == ["id"]


def test_upsert_needs_add_permission_and_missing_ids_get_new_ids(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT"}})
    edit_only = kt.token(app, "edit")
    body = {"app": app, "upsert": True, "records": [{"id": 50, "record": {"t": {"value": "n"}}}]}
    assert kt.error_of(kt.api("PUT", "records", token=edit_only, json=body)) == (403, "GAIA_NO01")
    response = kt.api("PUT", "records", token=token, json=body)
    assert response.json() == {"records": [{"id": "1", "revision": "1", "operation": "INSERT"}]}


def test_multi_record_validation_prefixes_and_unknown_ids(kt, simple):
    app, token = simple({"t": {"type": "SINGLE_LINE_TEXT", "required": True}})
    kt.load(app, [{"t": {"value": "a"}}])
    response = kt.api(
        "POST", "records", token=token, json={"app": app, "records": [{"t": {"value": "ok"}}, {}]}
    )
    assert _errors(response) == {"records[1].t.value": ["Required."]}
    put = kt.api(
        "PUT",
        "records",
        token=token,
        json={"app": app, "records": [{"id": 1, "record": {"t": {"value": ""}}}]},
    )
    assert _errors(put) == {"records[0].t.value": ["Required."]}
    unknown = kt.api(
        "PUT",
        "records",
        token=token,
        json={"app": app, "records": [{"id": 1, "record": {}}, {"id": 77, "record": {}}]},
    )
    assert kt.error_of(unknown) == (404, "GAIA_RE01")
    assert kt.dump(app)[0]["$revision"]["value"] == "1"


# -- tables -----------------------------------------------------------------------------------------------------------


TABLE_FIELDS = {
    "title": {"type": "SINGLE_LINE_TEXT"},
    "items": {
        "type": "SUBTABLE",
        "fields": {
            "name": {"type": "SINGLE_LINE_TEXT", "required": True},
            "qty": {"type": "NUMBER", "maxValue": "100"},
            "note": {"type": "SINGLE_LINE_TEXT", "defaultValue": "default_note"},
            "cbx": {"type": "CHECK_BOX", "options": ["X", "Y"]},
        },
    },
}


def _rows(kt, app, token):
    return _get(kt, app, token)["items"]["value"]


def test_table_rows_get_ids_types_and_defaults(kt, simple):
    app, token = simple(TABLE_FIELDS)
    rows = [
        {"value": {"name": {"value": "apple"}, "qty": {"value": "3"}}},
        {"value": {"name": {"value": "kiwi"}}},
    ]
    assert _post(kt, app, token, {"items": {"value": rows}}).status_code == 200
    got = _rows(kt, app, token)
    assert [r["value"]["name"]["value"] for r in got] == ["apple", "kiwi"]
    assert int(got[1]["id"]) > int(got[0]["id"])
    assert got[0]["value"]["note"] == {"type": "SINGLE_LINE_TEXT", "value": "default_note"}
    assert got[0]["value"]["qty"] == {"type": "NUMBER", "value": "3"}
    assert got[1]["value"]["cbx"] == {"type": "CHECK_BOX", "value": []}


def test_table_cell_validation_paths_and_silent_bad_numbers(kt, simple):
    app, token = simple(TABLE_FIELDS)
    rows = [
        {"value": {"qty": {"value": "1"}}},
        {"value": {"name": {"value": "b"}, "qty": {"value": "500"}, "cbx": {"value": ["X", "Z"]}}},
    ]
    assert _errors(_post(kt, app, token, {"items": {"value": rows}})) == {
        "record.items.value[0].value.name.value": ["Required."],
        "record.items.value[1].value.qty.value": ["The value must be 100 or less."],
        "record.items.value[1].value.cbx.values[1].value": ['The value, "Z", is not in options.'],
    }
    bad_number = [{"value": {"name": {"value": "c"}, "qty": {"value": "abc"}}}]
    assert _post(kt, app, token, {"items": {"value": bad_number}}).status_code == 200
    assert _rows(kt, app, token)[0]["value"]["qty"]["value"] == ""


def test_table_update_semantics(kt, simple):
    app, token = simple(TABLE_FIELDS)
    rows = [{"value": {"name": {"value": f"row{i}"}, "qty": {"value": str(i)}}} for i in (1, 2, 3)]
    _post(kt, app, token, {"items": {"value": rows}})
    first, _second, _third = [r["id"] for r in _rows(kt, app, token)]

    def put(record):
        response = kt.api(
            "PUT", "record", token=token, json={"app": app, "id": 1, "record": record}
        )
        assert response.status_code == 200, response.text

    put(
        {
            "items": {
                "value": [
                    {"id": first, "value": {"qty": {"value": "99"}}},
                    {"value": {"name": {"value": "new1"}}},
                    {"id": "9999999", "value": {"name": {"value": "new2"}}},
                ]
            }
        }
    )
    got = _rows(kt, app, token)
    assert [r["value"]["name"]["value"] for r in got] == ["row1", "new1", "new2"]
    assert got[0]["id"] == first and got[0]["value"]["qty"]["value"] == "99"
    assert got[2]["id"] != "9999999"
    assert len({r["id"] for r in got}) == 3
    put({"title": {"value": "untouched table"}})
    assert len(_rows(kt, app, token)) == 3
    put({"items": {"value": []}})
    assert _rows(kt, app, token) == []


# -- lookups ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def lookup_apps(kt):
    products = kt.create_app(
        {
            "code": {"type": "SINGLE_LINE_TEXT", "unique": True},
            "name": {"type": "SINGLE_LINE_TEXT"},
            "price": {"type": "NUMBER"},
        }
    )
    kt.load(
        products, [{"code": {"value": "P1"}, "name": {"value": "Pen"}, "price": {"value": "120"}}]
    )
    orders = kt.create_app(
        {
            "prod": {
                "type": "SINGLE_LINE_TEXT",
                "lookup": {
                    "relatedApp": {"app": str(products)},
                    "relatedKeyField": "code",
                    "fieldMappings": [
                        {"field": "pname", "relatedField": "name"},
                        {"field": "pprice", "relatedField": "price"},
                    ],
                },
            },
            "pname": {"type": "SINGLE_LINE_TEXT"},
            "pprice": {"type": "NUMBER"},
            "other": {"type": "SINGLE_LINE_TEXT"},
        }
    )
    return products, orders


def test_lookup_copies_on_write_and_refuses_missing_keys(kt, lookup_apps):
    products, orders = lookup_apps
    tokens = [kt.token(orders, "add", "edit", "view"), kt.token(products, "view")]
    response = _post(kt, orders, tokens, {"prod": {"value": "P1"}, "pname": {"value": "ignored"}})
    assert response.status_code == 200
    got = _get(kt, orders, tokens)
    assert (got["pname"]["value"], got["pprice"]["value"]) == ("Pen", "120")
    missing = _post(kt, orders, tokens, {"prod": {"value": "P9"}})
    assert kt.error_of(missing) == (400, "GAIA_LO04")
    assert "errors" not in missing.json()
    kt.api(
        "PUT",
        "record",
        token=tokens,
        json={"app": orders, "id": 1, "record": {"other": {"value": "x"}}},
    )
    assert _get(kt, orders, tokens)["pname"]["value"] == "Pen"
    kt.api(
        "PUT",
        "record",
        token=tokens,
        json={"app": orders, "id": 1, "record": {"prod": {"value": ""}}},
    )
    got = _get(kt, orders, tokens)
    assert (got["pname"]["value"], got["pprice"]["value"]) == ("", "")


def test_lookup_with_a_token_needs_the_source_app_token(kt, lookup_apps):
    _products, orders = lookup_apps
    token = kt.token(orders, "add")
    assert kt.error_of(_post(kt, orders, token, {"prod": {"value": "P1"}})) == (400, "GAIA_LO04")


def test_file_download_needs_view_on_the_owning_app(kt, full_app):
    app, token = full_app
    temp = _upload(kt, token)
    _post(kt, app, token, {"files": {"value": [{"fileKey": temp}]}})
    key = _get(kt, app, token)["files"]["value"][0]["fileKey"]
    other = kt.create_app({})
    stranger = kt.token(other, "view")
    assert kt.error_of(kt.api("GET", "file", token=stranger, params={"fileKey": key})) == (
        403,
        "GAIA_NO01",
    )
    assert kt.error_of(kt.api("POST", "file", token=token)) == (400, "CB_VA01")
