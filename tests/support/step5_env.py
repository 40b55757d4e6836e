"""Helpers shared by the Step5 and 「連携条件の設定」 tests: a connector synced against an app
that has every condition field type, and the Step5 part of a valid form. (No tests here.)"""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import requests
from werkzeug.datastructures import MultiDict

from portal.db import session_scope
from portal.demo_fixtures import choice_field_options
from portal.models.customer_syncs import CustomerSyncRow
from tests.support.settings_env import SUBDOMAIN, SettingsEnv, make_env

# Fields added to the support module's customer app so that every 付録1.2 type is present.
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "meeting": {"type": "DATETIME", "label": "商談日時"},
    "score": {"type": "CALC", "label": "スコア", "expression": "employees*2"},
    "rank": {
        "type": "RADIO_BUTTON",
        "label": "ランク",
        "required": True,
        "defaultValue": "A",
        "options": choice_field_options(("A", "B")),
    },
    "regions": {
        "type": "MULTI_SELECT",
        "label": "地域",
        "options": choice_field_options(("関東", "関西")),
    },
}


def make_step5_env(app, client, kintone_url: str, haihai_url: str, **kwargs: Any) -> SettingsEnv:
    """make_env + the extra fields, both sides synced."""
    env = make_env(app, client, kintone_url, haihai_url, **kwargs)
    env.kintone_fields(add=EXTRA_FIELDS)
    env.sync_both()
    return env


def step5_values(number: int = 1, **overrides: str) -> dict[str, str]:
    """The fields of one setting that saves: 手動実行, 顧客データベース, 一括登録, 送信しない."""
    prefix = f"customer-{number}-"
    values = {
        f"{prefix}timing": "manual",
        f"{prefix}target_type": "database",
        f"{prefix}mode": "register",
        f"{prefix}report_mail": "never",
        f"{prefix}conditions": "",
    }
    values.update({f"{prefix}{key}": value for key, value in overrides.items()})
    return values


def page_form(env: SettingsEnv, *settings: dict[str, str], **overrides: str) -> MultiDict:
    """A complete page form (Steps 1–4, 7) with the given Step5 settings (numbered 1…k)."""
    form = MultiDict(env.valid_form(**overrides))
    settings = settings or (step5_values(1),)
    for number, values in enumerate(settings, start=1):
        form.add("customer_numbers", str(number))
        for key, value in values.items():
            form.add(key, value)
    return form


def save(env: SettingsEnv, form: MultiDict):
    """「保存」 as htmx posts it."""
    return env.post("", form)


def stored_rows(env: SettingsEnv) -> list[CustomerSyncRow]:
    """The stored Step5 rows (detached), by number."""
    from sqlmodel import select

    with env.app.app_context(), session_scope() as session:
        rows = list(
            session.exec(
                select(CustomerSyncRow)
                .where(CustomerSyncRow.connector_id == env.connector_id)
                .order_by(CustomerSyncRow.number)
            ).all()
        )
        for row in rows:
            session.expunge(row)
        return rows


def config(env: SettingsEnv):
    """load_connector_config of the env's connector."""
    from portal.connector_types.loading import load_connector_config

    with env.app.app_context(), session_scope() as session:
        return load_connector_config(session, env.connector_id)


def conditions_json(match: str, *conditions: tuple[str, str, str, Any]) -> str:
    """The hidden input's JSON for (code, type, operator, value) conditions."""
    return json.dumps(
        {
            "match": match,
            "conditions": [
                {"field_code": c, "field_type": t, "operator": o, "value": v}
                for c, t, o, v in conditions
            ],
        },
        ensure_ascii=False,
    )


def hidden_value(html: str, name: str) -> str | None:
    """The value of the hidden input `name` in an HTML fragment."""
    match = re.search(r'<input type="hidden" name="' + re.escape(name) + r'" value="([^"]*)"', html)
    return unescape(match.group(1)) if match else None


def is_checked(html: str, element_id: str) -> bool:
    """Whether the radio/checkbox with this id is rendered checked."""
    match = re.search(r'<input[^>]*\bid="' + re.escape(element_id) + r'"[^>]*>', html)
    assert match is not None, element_id
    return re.search(r"\schecked\b", match.group(0)) is not None


def add_records(env: SettingsEnv, records: list[dict[str, Any]]) -> None:
    """Put records into the env's kintone app through the sandbox admin API."""
    body = {"subdomain": SUBDOMAIN, "app": env.app_id, "records": records}
    with requests.post(f"{env.kintone_url}/_sandbox/records", json=body, timeout=10) as r:
        assert r.status_code == 200, r.text
