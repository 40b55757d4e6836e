"""Demo data of the two import processes: a reaction app and a Bridge app created the way
「kintoneアプリを作成」 does (REST API: pre-live app, fields, deploy), reaction events and form
answers around the demo's start (some become visible only later: late arrivals), and the Step8 /
Step9 settings of the demo connector.

`seed_event_apps` talks only to the sandboxes (admin API plus the REST API as an administrator).
The demo hooks that store the Step8 / Step9 settings of the demo connector live in the connector
type (`portal.connector_types.haihai_kintone.event_import.demo`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import requests

from portal.connector_types.haihai_kintone.event_import import templates as app_templates
from portal.connector_types.haihai_kintone.event_import.demo import (
    DEMO_ADMIN_LOGIN,
    DEMO_ADMIN_PASSWORD,
    DEMO_APP_TOKENS,
    find_app,
)
from portal.syncs.clients import kintone_login_client

TOKYO = ZoneInfo("Asia/Tokyo")
ADMIN_TIMEOUT = 30
# The one extra field each demo app gets, mapped to the 配配メール item 会社名 (付録4.3 / 5.3).
COMPANY_FIELD = {"company": {"type": "SINGLE_LINE_TEXT", "code": "company", "label": "会社名"}}
# 配配メール's default timing lag: events show up ten minutes after they happened.
EVENT_LAG_SECONDS = 600


def _admin(url: str, payload: Any) -> dict[str, Any]:
    with requests.post(url, json=payload, timeout=ADMIN_TIMEOUT) as response:
        if response.status_code == 409:
            return {}
        response.raise_for_status()
        return response.json()


def _event_app(kintone_url: str, subdomain: str, role: str) -> str:
    """The demo app of `role`: created through the REST API once, reused when seeding again."""
    name = app_templates.default_app_name(role)
    base = f"{kintone_url}/{subdomain}"
    with kintone_login_client(base, DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD) as client:
        app_id = find_app(client, name)
    if app_id is None:
        config = {"KINTONE_BASE_URL_TEMPLATE": kintone_url + "/{subdomain}"}
        app_id = app_templates.create_app(
            config,
            subdomain,
            role,
            login=DEMO_ADMIN_LOGIN,
            password=DEMO_ADMIN_PASSWORD,
            name=name,
        )
        _admin(
            f"{kintone_url}/_sandbox/fields",
            {"subdomain": subdomain, "app": app_id, "add": COMPANY_FIELD},
        )
    # kintone's REST API cannot issue API tokens; the sandbox's admin API stands in for the user.
    _admin(
        f"{kintone_url}/_sandbox/tokens",
        {
            "subdomain": subdomain,
            "app": app_id,
            "token": DEMO_APP_TOKENS[role],
            "permissions": ["view", "add"],
        },
    )
    return str(app_id)


def reaction_events(
    emails: Sequence[str], now: dt.datetime, seed: int = 11
) -> list[dict[str, Any]]:
    """Opens, clicks, visits, CVs and downloads of the last three days up to an hour ahead.

    Events of the last minutes and of the coming hour become visible later (the lag, the clock):
    a 差分 run now imports what is visible, a later one the late arrivals without duplicates.
    """
    rng = random.Random(seed)
    start = now.astimezone(TOKYO) - dt.timedelta(days=3)
    span = int((now - start).total_seconds()) + 3600
    events = []
    for index in range(600):
        at = start + dt.timedelta(seconds=rng.randrange(span))
        email = emails[index % len(emails)]
        kind = rng.choices(("open", "click", "visit", "cv", "download"), (50, 25, 12, 6, 7))[0]
        event: dict[str, Any] = {
            "action_type": kind,
            "email": email,
            "occurred_at": at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if kind in ("open", "click"):
            number = 1 + index % 3
            event.update(
                mail_id=str(number),
                mail_type="group",
                subject=f"【製品ニュース】{('6月号', '7月号', 'セミナー特集')[number - 1]}",
            )
        if kind == "click":
            event["url"] = f"https://www.example.jp/seminar/{2024 + index % 2}"
        if kind in ("visit", "cv"):
            event.update(tag_name=("料金ページ", "導入事例", "お問い合わせ完了")[index % 3])
            event["page_url"] = "https://www.example.jp/price"
        if kind == "download":
            event["file_name"] = ("製品カタログ.pdf", "導入事例集.pdf")[index % 2]
        events.append(event)
    return events


def form_answers(people: Sequence[Mapping[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Answers of both demo forms over the last two days, a few still ahead of the clock."""
    rng = random.Random(23)
    start = now.astimezone(TOKYO) - dt.timedelta(days=2)
    span = int((now - start).total_seconds()) + 1800
    answers = []
    for index, person in enumerate(people[:80]):
        form_id = "1" if index % 3 else "2"
        values = {"会社名": person["company"], "氏名": person["name"]}
        if form_id == "2":
            values["業種"] = person["industry"]
        answers.append(
            {
                "form_id": form_id,
                "email": person["email"],
                "answered_at": (start + dt.timedelta(seconds=rng.randrange(span))).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "answers": values,
            }
        )
    return answers


def seed_event_apps(
    kintone_url: str,
    haihai_url: str,
    *,
    subdomain: str,
    account_key: str,
    people: Sequence[Mapping[str, Any]],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Create both apps and the events/answers; → {"reaction": {app_id, api_token}, "bridge": …}."""
    moment = now or dt.datetime.now(TOKYO)
    _admin(
        f"{kintone_url}/_sandbox/users",
        {"subdomain": subdomain, "code": DEMO_ADMIN_LOGIN, "password": DEMO_ADMIN_PASSWORD},
    )
    apps = {
        role: {"app_id": _event_app(kintone_url, subdomain, role), "api_token": token}
        for role, token in DEMO_APP_TOKENS.items()
    }
    _admin(f"{haihai_url}/_sandbox/config", {"event_lag_seconds": EVENT_LAG_SECONDS})
    emails = [p["email"] for p in people[:120]]
    _admin(
        f"{haihai_url}/_sandbox/events",
        {"account": account_key, "events": reaction_events(emails, moment)},
    )
    _admin(
        f"{haihai_url}/_sandbox/answers",
        {"account": account_key, "answers": form_answers(people, moment)},
    )
    return apps
