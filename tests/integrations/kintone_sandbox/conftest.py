"""Fixtures and helpers of the kintone sandbox tests: an HTTP driver over admin and REST APIs."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

SUB = "example"


class KintoneDriver:
    """Admin set-up calls plus REST calls with a chosen credential, all over real HTTP."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.url = base_url
        self.http = session

    # -- admin -------------------------------------------------------------------------------------

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call `/_sandbox/<path>`."""
        return self.http.request(method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs)

    def create_app(self, fields: dict, *, sub: str = SUB, **extra: Any) -> int:
        """A deployed app with `fields`; returns its id."""
        body = {"subdomain": sub, "name": extra.pop("name", "Test app"), "fields": fields, **extra}
        response = self.admin("POST", "apps", json=body)
        assert response.status_code == 200, response.text
        return int(response.json()["app"])

    def token(self, app: int, *permissions: str, sub: str = SUB, **extra: Any) -> str:
        """A new API token for `app`."""
        body = {"subdomain": sub, "app": app, **extra}
        if permissions:
            body["permissions"] = list(permissions)
        response = self.admin("POST", "tokens", json=body)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def user(self, code: str, password: str = "secret", name: str | None = None) -> dict:
        """A password user; returns the X-Cybozu-Authorization header for it."""
        body = {"subdomain": SUB, "code": code, "name": name or code.title(), "password": password}
        assert self.admin("POST", "users", json=body).status_code == 200
        return self.password_header(code, password)

    def load(self, app: int, records: list[dict], sub: str = SUB) -> None:
        """Store records through the admin loader."""
        response = self.admin(
            "POST", "records", json={"subdomain": sub, "app": app, "records": records}
        )
        assert response.status_code == 200, response.text

    def dump(self, app: int, sub: str = SUB) -> list[dict]:
        """Every record of `app` in read format, ascending ids."""
        response = self.admin("GET", "records", params={"subdomain": sub, "app": app})
        assert response.status_code == 200, response.text
        return response.json()["records"]

    def config(self, **knobs: Any) -> dict:
        """POST /_sandbox/config."""
        response = self.admin("POST", "config", json=knobs)
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self, sub: str = SUB) -> dict:
        """GET /_sandbox/stats for one subdomain."""
        return self.admin("GET", "stats", params={"subdomain": sub}).json()

    # -- REST ----------------------------------------------------------------------------------------

    def api(
        self,
        method: str,
        endpoint: str,
        *,
        token: str | list[str] | None = None,
        auth: dict | None = None,
        sub: str = SUB,
        guest: int | None = None,
        preview: bool = False,
        headers: dict | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Call `/{sub}/k[/guest/{id}]/v1[/preview]/{endpoint}.json`."""
        path = f"/{sub}/k" + (f"/guest/{guest}" if guest else "") + "/v1"
        path += ("/preview" if preview else "") + f"/{endpoint}.json"
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["X-Cybozu-API-Token"] = token if isinstance(token, str) else ",".join(token)
        if auth is not None:
            all_headers.update(auth)
        return self.http.request(method, self.url + path, headers=all_headers, timeout=30, **kwargs)

    @staticmethod
    def password_header(login: str, password: str) -> dict:
        """The X-Cybozu-Authorization header for a login."""
        raw = base64.b64encode(f"{login}:{password}".encode()).decode()
        return {"X-Cybozu-Authorization": raw}

    @staticmethod
    def error_of(response: requests.Response) -> tuple[int, str]:
        """(status, kintone code) of an error response."""
        return response.status_code, response.json().get("code")


ALL_TYPES_FIELDS = {
    "title": {"type": "SINGLE_LINE_TEXT", "label": "Title"},
    "memo": {"type": "MULTI_LINE_TEXT"},
    "rich": {"type": "RICH_TEXT"},
    "site": {"type": "LINK", "protocol": "WEB"},
    "mail": {"type": "LINK", "protocol": "MAIL"},
    "qty": {"type": "NUMBER"},
    "total": {"type": "CALC", "expression": "qty*2"},
    "tags": {"type": "CHECK_BOX", "options": ["a", "b", "c"]},
    "color": {"type": "RADIO_BUTTON", "options": ["red", "blue"]},
    "kind": {"type": "DROP_DOWN", "options": ["A", "B"]},
    "multi": {"type": "MULTI_SELECT", "options": ["x", "y"]},
    "due": {"type": "DATE"},
    "at": {"type": "TIME"},
    "when": {"type": "DATETIME"},
    "owner": {"type": "USER_SELECT"},
    "org": {"type": "ORGANIZATION_SELECT"},
    "team": {"type": "GROUP_SELECT"},
    "files": {"type": "FILE"},
    "items": {
        "type": "SUBTABLE",
        "fields": {
            "item": {"type": "SINGLE_LINE_TEXT"},
            "n": {"type": "NUMBER"},
            "opts": {"type": "CHECK_BOX", "options": ["p", "q"]},
        },
    },
    "section": {"type": "GROUP"},
}


@pytest.fixture
def kt(kintone_sandbox: str):
    """A driver for a freshly reset sandbox."""
    with requests.Session() as session:
        yield KintoneDriver(kintone_sandbox, session)


@pytest.fixture
def full_app(kt: KintoneDriver) -> tuple[int, str]:
    """An app with every field type and a token with all record permissions."""
    app = kt.create_app(ALL_TYPES_FIELDS)
    return app, kt.token(app, "view", "add", "edit", "delete")
