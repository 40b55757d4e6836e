"""Helpers shared by the 連携設定 tests: a signed-in account with a connector, sandbox apps and
accounts to sync against, and a complete valid form to post. (No tests in this module.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient

from portal.db import session_scope
from portal.demo_fixtures import choice_field_options, create_haihai_account, create_kintone_app
from portal.models import Connector
from portal.models.settings import ConnectorSettings
from tests.support.accounts import create_account, sign_in

SUBDOMAIN = "acme"
HAIHAI_KEY = "m12345"
HAIHAI_LOGIN = "owner@acme"
HAIHAI_TOKEN = "haihai-token-0001"
KINTONE_TOKEN = "KintoneToken0000000000000000000000000001"
HX = {"HX-Request": "true"}


def customer_fields() -> dict[str, dict[str, Any]]:
    """A small customer app covering the drift cases and the Step4/Step7 type rules."""
    return {
        "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス", "unique": True},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"},
        "notes": {"type": "MULTI_LINE_TEXT", "label": "備考"},
        "homepage": {"type": "LINK", "label": "ホームページ", "protocol": "WEB"},
        "employees": {"type": "NUMBER", "label": "従業員数"},
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": choice_field_options(("製造業", "小売業")),
        },
        "interests": {
            "type": "CHECK_BOX",
            "label": "関心",
            "options": choice_field_options(("勤怠", "経費")),
        },
        "contacted": {"type": "DATE", "label": "初回接触日"},
        "attachment": {"type": "FILE", "label": "添付ファイル"},
        "view_url": {"type": "LINK", "label": "顧客ページ", "protocol": "WEB"},
    }


def haihai_item_specs() -> list[dict[str, Any]]:
    """配配メール items of the test account (the email item is created by the sandbox)."""
    return [
        {"item_id": "I10", "label": "氏名", "type": "text"},
        {"item_id": "I11", "label": "会社名", "type": "text"},
        {"item_id": "I12", "label": "業種", "type": "select", "options": ["製造業", "小売業"]},
        {"item_id": "I13", "label": "旧姓", "type": "text"},
    ]


@dataclass
class SettingsEnv:
    """A signed-in client, its connector, and the sandboxes the connector talks to."""

    app: Flask
    client: FlaskClient
    connector_id: str
    account_id: int
    kintone_url: str
    haihai_url: str
    app_id: str = ""
    haihai_base: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """URL of the settings page."""
        return f"/connectors/{self.connector_id}/settings"

    def page(self) -> str:
        """The settings page's HTML."""
        response = self.client.get(self.base)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def post(self, path: str = "", data: dict | None = None, **kwargs):
        """POST to the settings page (or a sub-path) as htmx does."""
        return self.client.post(self.base + path, data=data or {}, headers=HX, **kwargs)

    def get(self, path: str = "", **kwargs):
        """GET a settings sub-path as htmx does."""
        return self.client.get(self.base + path, headers=HX, **kwargs)

    def access_form(self, **overrides: str) -> dict[str, str]:
        """Step2 + Step3 values that reach the sandboxes."""
        values = {
            "name": "顧客リスト連携",
            "haihai_url": self.haihai_base,
            "haihai_login_id": HAIHAI_LOGIN,
            "haihai_api_token": HAIHAI_TOKEN,
            "haihai_method": "synced",
            "kintone_subdomain": SUBDOMAIN,
            "kintone_app_id": self.app_id,
            "kintone_api_token": KINTONE_TOKEN,
            "view_url-timing": "off",
        }
        values.update(overrides)
        return values

    def sync_both(self) -> None:
        """Press both sync buttons with the access values (asserting they succeeded)."""
        form = self.access_form()
        for path in ("/haihai-sync", "/kintone-sync"):
            response = self.post(path, form)
            assert response.status_code == 200, response.get_data(as_text=True)
            assert "alert-danger" not in response.get_data(as_text=True).split("sync-drift")[0]

    def valid_form(self, **overrides: str) -> dict[str, str]:
        """A complete form that saves: synced method, email + 氏名 mapped (sync first)."""
        values = self.access_form()
        values.update(
            {
                "mapping-0-kintone": "email",
                "mapping-0-haihai_id": self.email_item_id(),
                "mapping-1-kintone": "name",
                "mapping-1-haihai_id": "I10",
            }
        )
        values.update(overrides)
        return values

    def email_item_id(self) -> str:
        """ID of the sandbox account's email item."""
        with requests.get(f"{self.haihai_url}/_sandbox/accounts/{HAIHAI_KEY}", timeout=10) as r:
            items = r.json()["items"]
        return next(str(i["item_id"]) for i in items if i.get("type") == "email")

    def stored(self) -> ConnectorSettings:
        """The stored settings row, detached (an empty one when nothing was stored yet)."""
        with self.app.app_context(), session_scope() as session:
            row = session.get(ConnectorSettings, self.connector_id)
            if row is None:
                return ConnectorSettings(connector_id=self.connector_id)
            session.expunge(row)
            return row

    def kintone_fields(self, **change: Any) -> None:
        """Change the kintone app's form through the sandbox admin API (add/update/delete)."""
        body = {"subdomain": SUBDOMAIN, "app": self.app_id, **change}
        with requests.post(f"{self.kintone_url}/_sandbox/fields", json=body, timeout=10) as r:
            assert r.status_code == 200, r.text

    def haihai_admin(self, method: str, path: str, body: dict | None = None) -> None:
        """Call the 配配メール sandbox admin API for the test account."""
        url = f"{self.haihai_url}/_sandbox/accounts/{HAIHAI_KEY}{path}"
        with requests.request(method, url, json=body, timeout=10) as r:
            assert r.status_code < 300, r.text


def seed_sandboxes(
    kintone_url: str,
    haihai_url: str,
    *,
    fields: dict[str, dict[str, Any]] | None = None,
    permissions: Any = None,
    plans: list[dict[str, str]] | None = None,
) -> tuple[int, str]:
    """The customer app in the kintone sandbox and the 配配メール account (items, the group
    メールマガジン, `plans`) a user types in → (app ID, 配配メール URL)."""
    extra = {} if permissions is None else {"permissions": permissions}
    app_id, _token = create_kintone_app(
        kintone_url,
        subdomain=SUBDOMAIN,
        fields=customer_fields() if fields is None else fields,
        token=KINTONE_TOKEN,
        **extra,
    )
    base = create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=haihai_item_specs(),
        groups=[{"gid": "1", "name": "メールマガジン"}],
        **({"plans": plans} if plans else {}),
    )
    return app_id, base


def make_env(
    app: Flask,
    client: FlaskClient,
    kintone_url: str,
    haihai_url: str,
    *,
    connector_id: str = "HC1001",
    permissions: tuple[str, ...] = ("view", "add", "edit"),
    name: str = "顧客リスト連携",
    fields: dict[str, dict[str, Any]] | None = None,
) -> SettingsEnv:
    """Account + connector signed in on `client`, a kintone app (`fields`, by default
    customer_fields()) and a 配配メール account."""
    account = create_account(app, connector_id)
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name=name)
        session.add(connector)
        session.flush()
        connector_pk = connector.id
    sign_in(client, account)
    app_id, base = seed_sandboxes(
        kintone_url,
        haihai_url,
        fields=fields,
        permissions=permissions,
        plans=[{"spid": "1", "name": "資料請求フォロー"}],
    )
    return SettingsEnv(app, client, connector_pk, account.id, kintone_url, haihai_url, app_id, base)


def field_error(html: str, name: str) -> str | None:
    """The message shown next to form field `name` (None when it has none)."""
    match = re.search(r'data-error-for="' + re.escape(name) + r'"[^>]*>([^<]*)<', html)
    return unescape(match.group(1)) if match else None


def text_of(html: str) -> str:
    """The visible text of an HTML fragment (tags removed, entities decoded)."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))
