"""App settings through the client: info, fields, layout, permission probing, app creation."""

from __future__ import annotations

import pytest

from portal.integrations.kintone import (
    KintoneAppAccessError,
    KintoneAuthError,
    KintoneClient,
    KintoneNotFoundError,
    KintonePermissionError,
)
from portal.syncs.kintone_schema import ChangeKind, diff_fields, mappable_fields

from .kintone_client_support import FAST_RETRY, SUB


@pytest.mark.parametrize(
    "permissions",
    [
        ("view",),
        ("add",),
        ("view", "add"),
        ("edit",),
        ("delete",),
        ("view", "edit", "delete"),
        ("view", "add", "edit", "delete"),
        ("view", "add", "edit", "delete", "manage"),
    ],
)
def test_probe_permissions_finds_the_token_rights_without_changing_data(
    admin, app, base_url, permissions
):
    admin.load_numbered(app, 3)
    before = admin.dump(app)
    token = admin.token(app, *permissions)
    with KintoneClient(base_url, api_tokens=[token], retry=FAST_RETRY) as client:
        assert client.probe_permissions(app) == set(permissions)
    assert admin.dump(app) == before


def test_probe_permissions_of_a_password_user_is_everything(admin, app, base_url):
    admin.user("alice", "pw")
    with KintoneClient(base_url, username="alice", password="pw") as client:
        assert client.probe_permissions(app) == {"view", "add", "edit", "delete", "manage"}
    assert admin.dump(app) == []


def test_probe_permissions_raises_for_bad_credentials_and_missing_apps(admin, app, base_url):
    with (
        KintoneClient(base_url, api_tokens=["bad"], retry=FAST_RETRY) as client,
        pytest.raises(KintoneAuthError),
    ):
        client.probe_permissions(app)
    admin.user("alice", "pw")
    with (
        KintoneClient(base_url, username="alice", password="pw") as client,
        pytest.raises(KintoneNotFoundError) as caught,
    ):
        client.probe_permissions(999)
    assert caught.value.code == "GAIA_AP01"


def test_probe_permissions_tells_a_token_of_another_app_from_a_missing_permission(
    admin, app, base_url
):
    """kintone answers 403 GAIA_NO01 to a token used on an app it was not issued for, existing
    or not; nothing at all being allowed is what tells that apart from one missing permission."""
    other = admin.create_app(name="別のアプリ")
    token = admin.token(app, "view", "edit")
    with KintoneClient(base_url, api_tokens=[token], retry=FAST_RETRY) as client:
        for wrong in (other, 999):
            with pytest.raises(KintoneAppAccessError) as caught:
                client.probe_permissions(wrong)
            assert (caught.value.code, caught.value.status) == ("GAIA_NO01", 403)
            with pytest.raises(KintonePermissionError) as plain:
                client.get_form_fields(wrong)
            assert plain.value.code == "GAIA_NO01"


def test_get_app_fields_and_layout(admin, base_url):
    layout = [{"type": "ROW", "fields": [{"type": "SINGLE_LINE_TEXT", "code": "title"}]}]
    app = admin.create_app(name="顧客リスト", layout=layout)
    token = admin.token(app, "view")
    with KintoneClient(base_url, api_tokens=[token], retry=FAST_RETRY) as client:
        info = client.get_app(app)
        assert info["name"] == "顧客リスト" and info["appId"] == str(app)
        fields = client.get_form_fields(app)
        assert fields["qty"]["type"] == "NUMBER"
        assert fields["kind"]["options"]["B"]["index"] == "1"
        assert fields["sku"]["unique"] is True
        assert client.get_form_layout(app)[0]["fields"][0]["code"] == "title"
        # Preview settings need the manage permission.
        with pytest.raises(KintonePermissionError):
            client.get_form_fields(app, preview=True)
        codes = [row["code"] for row in mappable_fields(fields)]
        assert {"title", "sku", "qty", "kind"} <= set(codes)


def test_schema_drift_is_detected_between_two_syncs(admin, app, client):
    before = client.get_form_fields(app)
    admin.call(
        "POST",
        "fields",
        json={
            "subdomain": SUB,
            "app": app,
            "update": {
                "title": {"label": "タイトル"},
                "qty": {"required": True},
                "kind": {"options": {"A": {"label": "A", "index": "0"}}},
            },
            "delete": ["sku"],
        },
    )
    after = client.get_form_fields(app)
    changes = {(c.code, c.kind) for c in diff_fields(before, after)}
    assert changes == {
        ("title", ChangeKind.LABEL_CHANGED),
        ("qty", ChangeKind.REQUIRED_CHANGED),
        ("kind", ChangeKind.OPTIONS_REMOVED),
        ("sku", ChangeKind.REMOVED),
    }


def test_create_app_add_fields_deploy_and_use_it(admin, base_url):
    admin.user("alice", "pw")
    with KintoneClient(base_url, username="alice", password="pw", sleep=lambda _: None) as client:
        app = client.create_app("注文")
        revision = client.add_form_fields(
            app,
            {
                "sku": {
                    "type": "SINGLE_LINE_TEXT",
                    "code": "sku",
                    "label": "SKU",
                    "unique": True,
                    "required": True,
                },
                "qty": {"type": "NUMBER", "code": "qty", "label": "数量"},
            },
        )
        assert revision >= 2
        client.update_form_fields(app, {"qty": {"type": "NUMBER", "label": "個数"}})
        client.update_form_layout(
            app, [{"type": "ROW", "fields": [{"type": "SINGLE_LINE_TEXT", "code": "sku"}]}]
        )
        assert client.get_form_fields(app, preview=True)["qty"]["label"] == "個数"
        statuses = client.deploy_app_settings([app], poll_interval=0)
        assert statuses == {app: "SUCCESS"}
        assert client.get_form_fields(app)["qty"]["label"] == "個数"
        client.delete_form_fields(app, ["qty"])
        client.deploy_app_settings([app], poll_interval=0)
        assert "qty" not in client.get_form_fields(app)
        result = client.add_records(app, [{"sku": {"value": "A-1"}}])
    assert list(result.ids) == [1]
    assert admin.dump(app)[0]["sku"]["value"] == "A-1"


def test_create_app_with_an_api_token_is_refused(app, client):
    with pytest.raises(KintonePermissionError):
        client.create_app("トークンでは作れない")
