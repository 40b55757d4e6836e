"""Authentication and permissions (spec §1.3, §1.4, §12.9) and guest-space paths (§1.1)."""

from __future__ import annotations

import base64
import http.client
import json

import pytest

FIELDS = {"title": {"type": "SINGLE_LINE_TEXT"}}


@pytest.fixture
def app(kt) -> int:
    return kt.create_app(FIELDS)


def _add(kt, app, **cred):
    return kt.api("POST", "record", json={"app": app, "record": {"title": {"value": "x"}}}, **cred)


def test_no_credentials_is_cb_au01(kt, app):
    response = kt.api("GET", "records", params={"app": app})
    assert kt.error_of(response) == (401, "CB_AU01")
    assert response.json()["message"] == "Please login."


@pytest.mark.parametrize(
    "header",
    [
        base64.b64encode(b"bob:wrong").decode(),
        base64.b64encode(b"nobody:secret").decode(),
        base64.b64encode(b"bob").decode(),
        "%%%not-base64%%%",
    ],
)
def test_bad_password_login_is_cb_wa01(kt, app, header):
    kt.user("bob", "secret")
    response = kt.api(
        "GET", "records", params={"app": app}, auth={"X-Cybozu-Authorization": header}
    )
    assert kt.error_of(response) == (401, "CB_WA01")
    assert response.json()["message"] == "Password authentication failed."


def test_password_user_may_do_everything_and_is_recorded_as_creator(kt, app):
    auth = kt.user("bob", "secret", name="Bob")
    assert _add(kt, app, auth=auth).status_code == 200
    record = kt.dump(app)[0]
    assert record["作成者"]["value"] == {"code": "bob", "name": "Bob"}
    assert record["更新者"]["value"] == {"code": "bob", "name": "Bob"}
    deleted = kt.api("DELETE", "records", auth=auth, json={"app": app, "ids": [1]})
    assert deleted.status_code == 200


def test_token_operations_are_recorded_as_administrator(kt, app):
    token = kt.token(app, "add")
    assert _add(kt, app, token=token).status_code == 200
    assert kt.dump(app)[0]["作成者"]["value"] == {"code": "Administrator", "name": "Administrator"}


def test_unknown_token_is_gaia_ia02_even_among_good_ones(kt, app):
    good = kt.token(app, "view")
    for token in ("nope", [good, "nope"]):
        response = kt.api("GET", "records", token=token, params={"app": app})
        assert kt.error_of(response) == (400, "GAIA_IA02")
    assert response.json()["message"] == (
        "The specified API token does not match the API token generated via an app."
    )


def test_draft_token_is_gaia_ia02(kt, app):
    token = kt.token(app, "view", active=False)
    assert kt.error_of(kt.api("GET", "records", token=token, params={"app": app})) == (
        400,
        "GAIA_IA02",
    )


def test_token_without_permission_is_gaia_no01(kt, app):
    view_only = kt.token(app, "view")
    response = _add(kt, app, token=view_only)
    assert kt.error_of(response) == (403, "GAIA_NO01")
    assert response.json()["message"] == "Using this API token, you cannot run the specified API."
    assert kt.dump(app) == []


@pytest.mark.parametrize(
    ("permission", "method", "endpoint", "body"),
    [
        ("view", "GET", "records", {}),
        ("add", "POST", "records", {"records": [{}]}),
        ("edit", "PUT", "record", {"id": 1, "record": {}}),
        ("delete", "DELETE", "records", {"ids": [1]}),
        ("manage", "GET", "app/form/fields", {}),
    ],
)
def test_each_permission_unlocks_its_api(kt, app, permission, method, endpoint, body):
    kt.load(app, [{"title": {"value": "seed"}}])
    others = [p for p in ("view", "add", "edit", "delete", "manage") if p != permission]
    preview = permission == "manage"
    denied = kt.api(
        method,
        endpoint,
        token=kt.token(app, *others[:1]),
        json={"app": app, **body},
        preview=preview,
    )
    assert kt.error_of(denied) == (403, "GAIA_NO01")
    allowed = kt.api(
        method,
        endpoint,
        token=kt.token(app, permission),
        json={"app": app, **body},
        preview=preview,
    )
    assert allowed.status_code == 200, allowed.text


def test_token_of_another_app_is_gaia_no01(kt, app):
    other = kt.create_app(FIELDS)
    token = kt.token(other, "view", "add")
    assert kt.error_of(kt.api("GET", "records", token=token, params={"app": app})) == (
        403,
        "GAIA_NO01",
    )


def test_two_tokens_for_one_app_is_gaia_da03(kt, app):
    tokens = [kt.token(app, "view"), kt.token(app, "add")]
    response = kt.api("GET", "records", token=tokens, params={"app": app})
    assert kt.error_of(response) == (400, "GAIA_DA03")


def test_tokens_may_be_comma_separated_or_repeated_headers(kt, app):
    other = kt.create_app(FIELDS)
    view_app, view_other = kt.token(app, "view"), kt.token(other, "view")
    joined = kt.api("GET", "records", token=f"{view_app} , {view_other}", params={"app": other})
    assert joined.status_code == 200
    # requests cannot repeat a header, so speak HTTP directly.
    host, port = kt.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", f"/example/k/v1/records.json?app={other}")
        connection.putheader("X-Cybozu-API-Token", view_app)
        connection.putheader("X-Cybozu-API-Token", view_other)
        connection.endheaders()
        repeated = connection.getresponse()
        assert repeated.status == 200
        assert json.loads(repeated.read()) == {"records": [], "totalCount": None}
    finally:
        connection.close()


def test_more_than_nine_tokens_are_refused(kt):
    apps = [kt.create_app(FIELDS) for _ in range(10)]
    tokens = [kt.token(a, "view") for a in apps]
    response = kt.api("GET", "records", token=tokens, params={"app": apps[0]})
    assert kt.error_of(response) == (400, "CB_IL02")
    assert kt.api("GET", "records", token=tokens[:9], params={"app": apps[0]}).status_code == 200


def test_password_beats_an_invalid_token(kt, app):
    auth = kt.user("bob", "secret")
    response = kt.api("GET", "records", token="invalid", auth=auth, params={"app": app})
    assert response.status_code == 200


def test_apps_list_and_app_creation_refuse_tokens(kt, app):
    token = kt.token(app, "view", "add", "edit", "delete", "manage")
    assert kt.error_of(kt.api("GET", "apps", token=token)) == (403, "GAIA_NO01")
    created = kt.api("POST", "app", preview=True, token=token, json={"name": "X"})
    assert kt.error_of(created) == (403, "GAIA_NO01")


def test_guest_space_app_needs_the_guest_path(kt):
    app = kt.create_app(FIELDS, guestSpace=7)
    token = kt.token(app, "view")
    wrong_path = kt.api("GET", "records", token=token, params={"app": app})
    assert kt.error_of(wrong_path) == (400, "GAIA_IL23")
    wrong_space = kt.api("GET", "records", token=token, guest=8, params={"app": app})
    assert kt.error_of(wrong_space) == (403, "CB_NO02")
    right = kt.api("GET", "records", token=token, guest=7, params={"app": app})
    assert right.status_code == 200


def test_normal_app_through_a_guest_path_is_cb_no02(kt, app):
    token = kt.token(app, "view")
    response = kt.api("GET", "records", token=token, guest=3, params={"app": app})
    assert kt.error_of(response) == (403, "CB_NO02")


def test_guest_space_app_created_by_rest_lives_in_that_space(kt):
    auth = kt.user("bob")
    created = kt.api("POST", "app", preview=True, guest=5, auth=auth, json={"name": "Guest app"})
    app = created.json()["app"]
    kt.api("POST", "app/deploy", preview=True, guest=5, auth=auth, json={"apps": [{"app": app}]})
    info = kt.api("GET", "app", guest=5, auth=auth, params={"id": app}).json()
    assert info["spaceId"] == "5"
    assert kt.error_of(kt.api("GET", "app", auth=auth, params={"id": app})) == (400, "GAIA_IL23")


def test_nonexistent_app_with_password_is_gaia_ap01(kt):
    auth = kt.user("bob")
    response = kt.api("GET", "records", auth=auth, params={"app": 999})
    assert kt.error_of(response) == (404, "GAIA_AP01")
    assert (
        response.json()["message"] == "The app (ID: 999) not found. The app may have been deleted."
    )


def test_messages_follow_accept_language(kt, app):
    token = kt.token(app, "view")
    ja = kt.api(
        "GET",
        "record",
        token=token,
        params={"app": app, "id": 5},
        headers={"Accept-Language": "ja"},
    )
    assert ja.json()["message"] == "指定したレコード（id: 5）が見つかりません。"
    en = kt.api(
        "GET",
        "record",
        token=token,
        params={"app": app},
        headers={"Accept-Language": "en-US,ja;q=0.5"},
    )
    assert en.json()["errors"] == {"id": {"messages": ["Required field."]}}
    ja_pref = kt.api(
        "GET",
        "record",
        token=token,
        params={"app": app},
        headers={"Accept-Language": "en;q=0.3, ja"},
    )
    assert ja_pref.json()["message"] == "入力内容が正しくありません。"
    assert ja_pref.json()["errors"] == {"id": {"messages": ["必須です。"]}}
    kt.config(language="ja")
    default = kt.api("GET", "record", token=token, params={"app": app, "id": 5})
    assert default.json()["message"] == "指定したレコード（id: 5）が見つかりません。"
