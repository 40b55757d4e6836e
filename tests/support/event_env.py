"""Helpers for the Step8 / Step9 tests: reaction and Bridge apps in the kintone sandbox, events and
answers in the 配配メール sandbox, and the settings forms that configure them. (No tests here.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import requests

from portal.connector_types.haihai_kintone.bridge.sync import run_bridge
from portal.connector_types.haihai_kintone.event_import.fields import (
    BRIDGE_FIELDS,
    REACTION_FIELDS,
    FixedField,
)
from portal.connector_types.haihai_kintone.event_import.watermarks import load_watermarks
from portal.connector_types.haihai_kintone.reaction.sync import run_reaction
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.models.common import new_ulid
from portal.syncs.context import RunContext
from tests.support.settings_env import HAIHAI_KEY, SUBDOMAIN

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=TOKYO)
ALL_TYPES = ["open", "click", "visit", "cv", "download"]
TOKEN_PREFIXES = {"reaction": "ReactionAppToken", "bridge": "BridgeAppToken"}
ADMIN_LOGIN = "kintone-admin"
ADMIN_PASSWORD = "Admin#Pass2024"


def fixed_properties(fields: Sequence[FixedField]) -> dict[str, dict[str, Any]]:
    """The fields' properties as the sandbox's admin API takes them."""
    return {f.code: f.properties() for f in fields}


def create_event_app(
    kintone_url: str,
    subdomain: str,
    role: str,
    *,
    token: str | None = None,
    permissions: Sequence[str] = ("view", "add"),
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    without: Iterable[str] = (),
    legacy: bool = False,
) -> tuple[str, str]:
    """An app with the fixed fields of `role` (minus `without`, plus `extra`) → (app id, token).

    Unless `token` is given, each app gets its own token (see app_token)."""
    if role == "reaction":
        fixed = REACTION_FIELDS
        if legacy:
            fixed = tuple(f for f in REACTION_FIELDS if f.code not in LEGACY_MISSING)
    else:
        fixed = BRIDGE_FIELDS
    fields = {code: prop for code, prop in fixed_properties(fixed).items() if code not in without}
    fields.update(extra or {})
    name = "顧客反応履歴" if role == "reaction" else "Bridgeフォーム回答"
    with requests.post(
        f"{kintone_url}/_sandbox/apps",
        json={"subdomain": subdomain, "name": name, "fields": fields},
        timeout=10,
    ) as response:
        assert response.status_code == 200, response.text
        app_id = str(response.json()["app"])
    token = token or app_token(role, app_id)
    body = {"subdomain": subdomain, "app": app_id, "permissions": list(permissions), "token": token}
    with requests.post(f"{kintone_url}/_sandbox/tokens", json=body, timeout=10) as response:
        assert response.status_code == 200, response.text
    return app_id, token


def app_token(role: str, app_id: str) -> str:
    """The token create_event_app issues for an app (40 letters and digits)."""
    prefix = TOKEN_PREFIXES[role]
    return prefix + app_id.rjust(40 - len(prefix), "0")


LEGACY_MISSING = ("RH01RecordDatetime2", "RH01TagName", "RH01FileName")


def add_admin_user(kintone_url: str, subdomain: str) -> None:
    """A kintone user allowed to create apps (password authentication)."""
    body = {"subdomain": subdomain, "code": ADMIN_LOGIN, "password": ADMIN_PASSWORD}
    with requests.post(f"{kintone_url}/_sandbox/users", json=body, timeout=10) as response:
        assert response.status_code in (200, 409), response.text


def kintone_records(kintone_url: str, subdomain: str, app: str) -> list[dict[str, Any]]:
    """Every record of an app (read format, ascending $id)."""
    with requests.get(
        f"{kintone_url}/_sandbox/records", params={"subdomain": subdomain, "app": app}, timeout=30
    ) as response:
        response.raise_for_status()
        return response.json()["records"]


def jst(moment: dt.datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in JST (the 配配メール sandbox's time format)."""
    return moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S")


def post_events(haihai_url: str, account: str, events: Sequence[Mapping[str, Any]]) -> None:
    """Inject events (occurred_at as aware datetimes or JST text) into the 配配メール sandbox."""
    body = [
        {**e, "occurred_at": jst(e["occurred_at"])}
        if isinstance(e.get("occurred_at"), dt.datetime)
        else dict(e)
        for e in events
    ]
    for start in range(0, len(body), 5000):
        with requests.post(
            f"{haihai_url}/_sandbox/events",
            json={"account": account, "events": body[start : start + 5000]},
            timeout=120,
        ) as response:
            assert response.status_code < 300, response.text


def post_answers(haihai_url: str, account: str, answers: Sequence[Mapping[str, Any]]) -> None:
    """Inject Bridge form answers (answered_at as aware datetimes or JST text)."""
    body = [
        {**a, "answered_at": jst(a["answered_at"])}
        if isinstance(a.get("answered_at"), dt.datetime)
        else dict(a)
        for a in answers
    ]
    with requests.post(
        f"{haihai_url}/_sandbox/answers", json={"account": account, "answers": body}, timeout=60
    ) as response:
        assert response.status_code < 300, response.text


def haihai_config(haihai_url: str, **knobs: Any) -> None:
    """Set knobs of the 配配メール sandbox (event_lag_seconds, latency_ms, faults …)."""
    with requests.post(f"{haihai_url}/_sandbox/config", json=knobs, timeout=10) as response:
        assert response.status_code < 300, response.text


def kintone_config(kintone_url: str, **knobs: Any) -> None:
    """Set knobs of the kintone sandbox (faults, latency_ms …)."""
    with requests.post(f"{kintone_url}/_sandbox/config", json=knobs, timeout=10) as response:
        assert response.status_code < 300, response.text


def event(
    kind: str, email: str, at: dt.datetime, *, mail_id: str = "1", **extra: Any
) -> dict[str, Any]:
    """One event for post_events."""
    body: dict[str, Any] = {
        "action_type": kind,
        "email": email,
        "occurred_at": at,
        "mail_id": mail_id,
        "mail_type": "group",
        "subject": "【製品ニュース】6月号",
    }
    if kind == "click":
        body["url"] = "https://www.example.jp/seminar"
    if kind in ("visit", "cv"):
        body.update({"mail_id": None, "mail_type": None, "tag_name": f"{kind}-tag"})
        body["page_url"] = "https://www.example.jp/product"
    if kind == "download":
        body.update({"mail_id": None, "mail_type": None, "file_name": "資料.pdf"})
    body.update(extra)
    return body


def reaction_form(app_id: str = "", token: str | None = None, **values: Any) -> dict[str, Any]:
    """Step8 inputs for an app of create_event_app: manual timing, full method, opens and clicks."""
    form: dict[str, Any] = {
        "reaction-timing": "manual",
        "reaction_method": "full",
        "reaction_types": ["open", "click"],
        "reaction_app_id": app_id,
        "reaction_api_token": token or (app_token("reaction", app_id) if app_id else ""),
    }
    form.update(values)
    return form


class ImportEnv:
    """A configured connector with the app of `role`; `run(at, **params)` runs the handler."""

    def __init__(self, env, app_id: str, role: str = "reaction", subdomain: str = SUBDOMAIN):
        self.env = env
        self.app_id = app_id
        self.role = role
        self.subdomain = subdomain

    def run(self, at: dt.datetime = NOW, **params):
        """Run the handler as if started at `at` (the 配配メール sandbox's clock is set to it)."""
        haihai_config(
            self.env.haihai_url, now=at.strftime("%Y-%m-%d %H:%M:%S"), event_lag_seconds=0
        )
        handler = run_reaction if self.role == "reaction" else run_bridge
        app = self.env.app
        with app.app_context():
            with session_scope() as session:
                config = load_connector_config(session, self.env.connector_id)
            context = RunContext(
                run_id=new_ulid(),
                connector_id=self.env.connector_id,
                process_key=self.role,
                process_number=None,
                trigger="manual",
                params=params,
                started_at=at,
                timezone="Asia/Tokyo",
                load_config=lambda: config,
                report_progress=lambda done, total: None,
                app_config=app.config,
            )
            return handler(context)

    def records(self) -> list[dict]:
        return kintone_records(self.env.kintone_url, self.subdomain, self.app_id)

    def values(self, code: str) -> list[str]:
        return [r[code]["value"] for r in self.records()]

    def events(self, *events) -> None:
        post_events(self.env.haihai_url, HAIHAI_KEY, list(events))

    def answers(self, *answers) -> None:
        post_answers(self.env.haihai_url, HAIHAI_KEY, list(answers))

    def watermarks(self) -> dict[str, dt.datetime]:
        with self.env.app.app_context(), session_scope() as session:
            marks = load_watermarks(session, self.env.connector_id, self.role)
        return {k: v.imported_until.astimezone(TOKYO) for k, v in marks.items()}

    def save(self, **values) -> None:
        form = self.env.valid_form()
        make_form = reaction_form if self.role == "reaction" else bridge_form
        form.update(make_form(self.app_id, **values))
        response = self.env.post("", form)
        assert response.status_code == 200, response.get_data(as_text=True)


ReactionEnv = ImportEnv


def allow_legacy(app, connector_id: str) -> None:
    """Flag the connector as created before the 2024-06 update (the operator's command does it)."""
    from portal.connector_types.haihai_kintone.event_import.app import settings_row

    with app.app_context(), session_scope() as session:
        row = settings_row(session, connector_id, "reaction")
        row.legacy_method_allowed = True
        session.add(row)


def _bridge_account(env) -> None:
    env.haihai_admin("PATCH", "", {"plan": "bridge"})
    for form in FORMS:
        env.haihai_admin("POST", "/forms", form)


def make_reaction_env(env, **app_kwargs) -> ImportEnv:
    """Bridge plan, both sides synced, a reaction app synced, Step8 saved with every type."""
    _bridge_account(env)
    env.sync_both()
    assert env.post("", env.valid_form()).status_code == 200
    app_id, _token = create_event_app(env.kintone_url, SUBDOMAIN, "reaction", **app_kwargs)
    response = env.post("/events/reaction/app-sync", reaction_form(app_id))
    assert response.status_code == 200
    reaction = ImportEnv(env, app_id, "reaction")
    reaction.save(reaction_types=ALL_TYPES)
    return reaction


def make_bridge_env(env, **app_kwargs) -> ImportEnv:
    """Bridge plan with two forms, both sides synced, a Bridge app synced, Step9 saved (すべて)."""
    _bridge_account(env)
    env.sync_both()
    assert env.post("", env.valid_form()).status_code == 200
    app_id, _token = create_event_app(env.kintone_url, SUBDOMAIN, "bridge", **app_kwargs)
    response = env.post("/events/bridge/app-sync", bridge_form(app_id))
    assert response.status_code == 200
    bridge = ImportEnv(env, app_id, "bridge")
    bridge.save()
    return bridge


FORMS = (
    {"form_id": "101", "form_name": "お問い合わせフォーム", "items": ["氏名", "会社名"]},
    {
        "form_id": "102",
        "form_name": "資料ダウンロードフォーム",
        "items": ["氏名", "会社名", "業種"],
    },
)


def bridge_form(app_id: str = "", token: str | None = None, **values: Any) -> dict[str, Any]:
    """Step9 inputs for an app of create_event_app: manual timing, every form."""
    form: dict[str, Any] = {
        "bridge-timing": "manual",
        "bridge_form_mode": "all",
        "bridge_app_id": app_id,
        "bridge_api_token": token or (app_token("bridge", app_id) if app_id else ""),
    }
    form.update(values)
    return form


def answer(form_id: str, email: str, at: dt.datetime, **values: Any) -> dict[str, Any]:
    """One Bridge answer for post_answers (values by item label)."""
    return {
        "form_id": form_id,
        "email": email,
        "answered_at": at,
        "answers": values or {"氏名": "山田 太郎"},
    }
