"""Demo data: a kintone customer app and a 配配メール account in the sandboxes, and a connector
configured against them, so that a newcomer can open 連携設定 and sync both sides at once.

`seed_sandboxes` talks only to the sandboxes' admin APIs (`/_sandbox/...`); the values are
deterministic (fixed tokens, the seeded sample customers of `portal.demo_people`) so a demo looks
the same every time.
The smaller helpers (`create_kintone_app`, `create_haihai_account`) are used by tests too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from sqlmodel import Session

from portal.connector_types.haihai_kintone.stop_ban import demo as stop_ban_demo
from portal.connector_types.registry import get_connector_type
from portal.demo_people import (
    INDUSTRIES,
    NEWSLETTERS,
    OWNERS,
    PRODUCTS,
    RANKS,
    REGIONS,
    haihai_customer,
    kintone_record,
    newsletter_events,
    sample_people,
)
from portal.models import Connector
from portal.models.settings import HAIHAI_METHOD_SYNCED

log = logging.getLogger(__name__)

ADMIN_TIMEOUT = 30
DEMO_SUBDOMAIN = "demo"
DEMO_APP_ID = 1
# kintone API tokens are 40 letters/digits; 配配メール tokens are opaque strings.
DEMO_KINTONE_TOKEN = "DemoCustomerAppToken00000000000000000001"
DEMO_HAIHAI_ACCOUNT = "m10001"
DEMO_HAIHAI_LOGIN = "demo-admin"
DEMO_HAIHAI_TOKEN = "demo0haihai0api0token0000000000001"
SAMPLE_PEOPLE_COUNT = 300
SAMPLE_CUSTOMER_COUNT = 120
# kintone records and 配配メール customers: the sample people plus aaa–ddd of 付録2.1.
DEMO_RECORD_COUNT = SAMPLE_PEOPLE_COUNT + len(stop_ban_demo.EXAMPLE_EMAILS)
DEMO_CUSTOMER_COUNT = SAMPLE_CUSTOMER_COUNT + len(stop_ban_demo.EXAMPLE_EMAILS)
DEMO_CONNECTOR_NAME = "デモ: 顧客リスト ⇄ 配配メール"
# A second demo connector on the same app: the other example of 付録2.1 (両方、同じ項目).
DEMO_SAME_FIELD_CONNECTOR_NAME = "デモ: 配信停止/禁止を同じ項目に連携"


class SandboxSetupError(RuntimeError):
    """A sandbox admin call failed (the demo data could not be created)."""


def choice_field_options(labels: Sequence[str]) -> dict[str, dict[str, str]]:
    """kintone `options` of a choice field: each label in the given order."""
    return {label: {"label": label, "index": str(i)} for i, label in enumerate(labels)}


def customer_app_fields() -> dict[str, dict[str, Any]]:
    """The demo customer app: a field of every type 付録1.1 can map (+ a URL field for Step7)."""
    return {
        "email": {
            "type": "SINGLE_LINE_TEXT",
            "label": "メールアドレス",
            "required": True,
            "unique": True,
        },
        "company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "name_kana": {"type": "SINGLE_LINE_TEXT", "label": "氏名（かな）"},
        "website": {"type": "LINK", "label": "ホームページ", "protocol": "WEB"},
        "notes": {"type": "MULTI_LINE_TEXT", "label": "備考"},
        "employees": {"type": "NUMBER", "label": "従業員数"},
        "deal_size": {
            "type": "CALC",
            "label": "見込み金額",
            "expression": "employees * 1200",
            "format": "NUMBER_DIGIT",
        },
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": choice_field_options(INDUSTRIES),
        },
        "region": {
            "type": "RADIO_BUTTON",
            "label": "地域",
            "options": choice_field_options(REGIONS),
        },
        "interests": {
            "type": "CHECK_BOX",
            "label": "関心のある製品",
            "options": choice_field_options(PRODUCTS),
        },
        "newsletters": {
            "type": "MULTI_SELECT",
            "label": "購読メールマガジン",
            "options": choice_field_options(NEWSLETTERS),
        },
        "rank": {
            "type": "DROP_DOWN",
            "label": "顧客ランク",
            "options": choice_field_options(RANKS),
        },
        "first_contact": {"type": "DATE", "label": "初回接触日"},
        "last_meeting": {"type": "DATETIME", "label": "最終商談日時"},
        "owner": {"type": "USER_SELECT", "label": "担当者"},
        "team": {"type": "GROUP_SELECT", "label": "担当グループ"},
        "department": {"type": "ORGANIZATION_SELECT", "label": "担当部署"},
        "view_url": {"type": "LINK", "label": "配配メール顧客ページ", "protocol": "WEB"},
        "delivery_state": {
            "type": "DROP_DOWN",
            "label": "配信状態",
            "options": choice_field_options(("配信可能", "配信停止", "配信禁止")),
        },
        **stop_ban_demo.example_fields(),
    }


def haihai_items() -> list[dict[str, Any]]:
    """配配メール customer-database items matching the demo app (recommended types of 付録1.1)."""
    return [
        {"item_id": "I01", "label": "会社名", "type": "text"},
        {"item_id": "I02", "label": "氏名", "type": "text"},
        {"item_id": "I03", "label": "氏名（かな）", "type": "text", "input_rule": "hiragana"},
        {"item_id": "I04", "label": "ホームページ", "type": "text"},
        {"item_id": "I05", "label": "備考", "type": "textarea"},
        {"item_id": "I06", "label": "従業員数", "type": "int"},
        {"item_id": "I07", "label": "業種", "type": "select", "options": list(INDUSTRIES)},
        {"item_id": "I08", "label": "地域", "type": "radio", "options": list(REGIONS)},
        {
            "item_id": "I09",
            "label": "関心のある製品",
            "type": "checkbox",
            "options": list(PRODUCTS),
        },
        {
            "item_id": "I10",
            "label": "購読メールマガジン",
            "type": "multiselect",
            "options": list(NEWSLETTERS),
        },
        {"item_id": "I11", "label": "顧客ランク", "type": "select", "options": list(RANKS)},
        {"item_id": "I12", "label": "初回接触日", "type": "date"},
        {"item_id": "I13", "label": "最終商談日時", "type": "date"},
        {"item_id": "I14", "label": "見込み金額", "type": "int"},
    ]


def _post(url: str, payload: Any, *, allow_conflict: bool = False) -> dict[str, Any]:
    with requests.post(url, json=payload, timeout=ADMIN_TIMEOUT) as response:
        if allow_conflict and response.status_code == 409:
            return {}
        if response.status_code >= 400:
            raise SandboxSetupError(f"POST {url} → {response.status_code}: {response.text[:500]}")
        return response.json()


def create_kintone_app(
    kintone_url: str,
    *,
    subdomain: str,
    fields: Mapping[str, Mapping[str, Any]],
    name: str = "顧客リスト",
    app_id: int | None = None,
    token: str | None = None,
    permissions: Sequence[str] = ("view", "add", "edit"),
    records: Sequence[Mapping[str, Any]] = (),
) -> tuple[str, str]:
    """Create an app (+ an API token and records) in the kintone sandbox → (app id, token).

    With a fixed `app_id`, an app that already exists is kept as it is (re-seeding is harmless).
    """
    body: dict[str, Any] = {"subdomain": subdomain, "name": name, "fields": dict(fields)}
    if app_id is not None:
        body["app"] = app_id
    created = _post(f"{kintone_url}/_sandbox/apps", body, allow_conflict=app_id is not None)
    existing = not created
    app = str(created.get("app") or app_id)
    token_body: dict[str, Any] = {
        "subdomain": subdomain,
        "app": app,
        "permissions": list(permissions),
    }
    if token:
        token_body["token"] = token
    token_value = _post(f"{kintone_url}/_sandbox/tokens", token_body, allow_conflict=True).get(
        "token", token
    )
    if records and not existing:
        for start in range(0, len(records), 500):
            _post(
                f"{kintone_url}/_sandbox/records",
                {"subdomain": subdomain, "app": app, "records": list(records[start : start + 500])},
            )
    return app, str(token_value)


def create_haihai_account(
    haihai_url: str,
    *,
    account_key: str,
    login_id: str,
    api_token: str,
    items: Sequence[Mapping[str, Any]] = (),
    groups: Sequence[Mapping[str, Any]] = (),
    plans: Sequence[Mapping[str, Any]] = (),
    forms: Sequence[Mapping[str, Any]] = (),
    plan: str = "standard",
    email: str = "report@example.jp",
    customers: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Create (or replace) a 配配メール sandbox account → its base URL (ends with a slash)."""
    body = {
        "account_key": account_key,
        "plan": plan,
        "items": list(items),
        "groups": list(groups),
        "plans": list(plans),
        "forms": list(forms),
        "users": [{"login_id": login_id, "api_token": api_token, "email": email}],
    }
    definition = _post(f"{haihai_url}/_sandbox/accounts", body)
    if customers:
        for start in range(0, len(customers), 500):
            _post(
                f"{haihai_url}/_sandbox/customers",
                {"account": account_key, "customers": list(customers[start : start + 500])},
            )
    return str(definition.get("base_url") or f"{haihai_url}/{account_key}/")


def seed_sandboxes(kintone_url: str, haihai_url: str) -> dict[str, Any]:
    """Create the demo customer app and the demo 配配メール account; return how to reach them.

    The result is what configure_demo_connector needs: {"kintone": {subdomain, app_id,
    api_token}, "haihai": {account_key, url, login_id, api_token}, "records", "customers",
    "event_apps": the reaction and Bridge apps (portal.demo_events)}.
    """
    kintone_url = kintone_url.rstrip("/")
    haihai_url = haihai_url.rstrip("/")
    people = sample_people(SAMPLE_PEOPLE_COUNT)
    for code, name in OWNERS:
        _post(
            f"{kintone_url}/_sandbox/users",
            {"subdomain": DEMO_SUBDOMAIN, "code": code, "name": name, "password": f"{code}-demo"},
        )
    app_id, token = create_kintone_app(
        kintone_url,
        subdomain=DEMO_SUBDOMAIN,
        fields=customer_app_fields(),
        app_id=DEMO_APP_ID,
        token=DEMO_KINTONE_TOKEN,
        records=[kintone_record(p) for p in people] + stop_ban_demo.example_records(),
    )
    customers = [haihai_customer(p, i) for i, p in enumerate(people[:SAMPLE_CUSTOMER_COUNT])]
    customers += stop_ban_demo.example_customers()
    base_url = create_haihai_account(
        haihai_url,
        account_key=DEMO_HAIHAI_ACCOUNT,
        login_id=DEMO_HAIHAI_LOGIN,
        api_token=DEMO_HAIHAI_TOKEN,
        plan="bridge",
        items=haihai_items(),
        groups=[
            {"gid": "1", "name": "メールマガジン購読者"},
            {"gid": "2", "name": "セミナー案内"},
            {"gid": "3", "name": "既存顧客フォロー"},
        ],
        plans=[
            {"spid": "1", "name": "資料請求後フォロー"},
            {"spid": "2", "name": "無料トライアル"},
        ],
        forms=[
            {"form_id": "1", "form_name": "お問い合わせフォーム", "items": ["会社名", "氏名"]},
            {"form_id": "2", "form_name": "資料請求フォーム", "items": ["会社名", "氏名", "業種"]},
        ],
        customers=customers,
    )
    _post(
        f"{haihai_url}/_sandbox/events",
        {
            "account": DEMO_HAIHAI_ACCOUNT,
            "events": newsletter_events(people[:SAMPLE_CUSTOMER_COUNT]),
        },
    )
    from portal.demo_events import seed_event_apps

    event_apps = seed_event_apps(
        kintone_url,
        haihai_url,
        subdomain=DEMO_SUBDOMAIN,
        account_key=DEMO_HAIHAI_ACCOUNT,
        people=people,
    )
    return {
        "kintone": {"subdomain": DEMO_SUBDOMAIN, "app_id": app_id, "api_token": token},
        "haihai": {
            "account_key": DEMO_HAIHAI_ACCOUNT,
            "url": base_url,
            "login_id": DEMO_HAIHAI_LOGIN,
            "api_token": DEMO_HAIHAI_TOKEN,
        },
        "records": len(people) + len(stop_ban_demo.EXAMPLE_EMAILS),
        "customers": len(customers),
        "event_apps": event_apps,
    }


def configure_demo_connector(
    session: Session,
    account_id: int,
    kintone_base_template: str,
    haihai_url: str,
    seeds: Mapping[str, Any],
) -> Connector:
    """Create the demo connector with Steps 1–3 filled in, both sides synced and a mapping.

    `haihai_url` is the sandbox's root URL (the account path comes from `seeds`). When a
    sandbox cannot be reached the connector keeps its connection settings unsynced, so the
    user can press the sync buttons later. On the demo app it also gets 顧客情報連携設定 1–6,
    Step6 as the first example of 付録2.1 (両方、別々の項目) and Step7. Commits.
    """
    connector, ctx = _synced_connector(
        session, account_id, kintone_base_template, haihai_url, seeds, DEMO_CONNECTOR_NAME
    )
    if ctx is not None:
        # Each process folder adds its demo settings (ConnectorType.demo_hooks).
        for configure in get_connector_type(connector.kind).demo_hooks:
            configure(ctx)
    session.commit()
    return connector


def configure_same_field_demo_connector(
    session: Session,
    account_id: int,
    kintone_base_template: str,
    haihai_url: str,
    seeds: Mapping[str, Any],
) -> Connector:
    """A second demo connector on the same app and account, Steps 1–4 as the first one and
    Step6 as the second example of 付録2.1 (両方、同じ項目に連携する). Commits."""
    connector, ctx = _synced_connector(
        session,
        account_id,
        kintone_base_template,
        haihai_url,
        seeds,
        DEMO_SAME_FIELD_CONNECTOR_NAME,
    )
    if ctx is not None and stop_ban_demo.fits(ctx.kintone_fields):
        session.add(stop_ban_demo.same_field_row(connector.id))
    session.commit()
    return connector


def _synced_connector(
    session: Session,
    account_id: int,
    kintone_base_template: str,
    haihai_url: str,
    seeds: Mapping[str, Any],
    name: str,
):
    """A connector with Steps 1–3 filled in, both sides synced and Step4 mapped by label
    → (connector, its settings context), the context None when a sync failed. Commits."""
    from werkzeug.datastructures import MultiDict

    from portal.settings import service, syncing
    from portal.settings.mapping import add_row
    from portal.settings.mapping_step import replace_mapping_rows

    kintone, haihai = seeds["kintone"], seeds["haihai"]
    account_url = f"{haihai_url.rstrip('/')}/{haihai['account_key']}/"
    connector = Connector(account_id=account_id, name=name)
    session.add(connector)
    session.flush()
    config = {"KINTONE_BASE_URL_TEMPLATE": kintone_base_template, "HAIHAI_ALLOW_LOCAL_URLS": True}
    ctx = service.make_context(session, connector, config)
    settings = ctx.settings
    settings.haihai_url = account_url
    settings.haihai_login_id = haihai["login_id"]
    settings.haihai_api_token = haihai["api_token"]
    settings.haihai_method = HAIHAI_METHOD_SYNCED
    settings.kintone_subdomain = kintone["subdomain"]
    settings.kintone_app_id = str(kintone["app_id"])
    settings.kintone_api_token = kintone["api_token"]
    session.add(settings)
    session.commit()

    form = MultiDict(
        {
            "haihai_url": account_url,
            "haihai_login_id": haihai["login_id"],
            "haihai_api_token": haihai["api_token"],
            "kintone_subdomain": kintone["subdomain"],
            "kintone_app_id": str(kintone["app_id"]),
            "kintone_api_token": kintone["api_token"],
        }
    )
    try:
        syncing.sync_haihai(ctx, form)
        syncing.sync_kintone(ctx, form)
    except (syncing.SyncFailed, syncing.SyncInputInvalid) as error:
        log.warning("demo_connector_not_synced connector_id=%s error=%s", connector.id, error)
        return connector, None

    # The email row first, then every field whose label names a 配配メール item.
    rows = add_row(
        [], "email", ctx.kintone_fields, method=HAIHAI_METHOD_SYNCED, snapshot=ctx.haihai_snapshot
    )
    labels = {item["label"] for item in ctx.haihai_snapshot.get("items", [])}
    for code, prop in ctx.kintone_fields.items():
        if code != "email" and prop.get("label") in labels:
            rows = add_row(
                rows,
                code,
                ctx.kintone_fields,
                method=HAIHAI_METHOD_SYNCED,
                snapshot=ctx.haihai_snapshot,
            )
    replace_mapping_rows(ctx, rows)
    session.commit()
    return connector, ctx
