"""Demo data: a kintone customer app and a 配配メール account in the sandboxes, and a connector
configured against them, so that a newcomer can open 連携設定 and sync both sides at once.

`seed_sandboxes` talks only to the sandboxes' admin APIs (`/_sandbox/...`); the values are
deterministic (fixed tokens, a seeded random generator) so a demo looks the same every time.
The smaller helpers (`create_kintone_app`, `create_haihai_account`) are used by tests too.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from sqlmodel import Session

from portal.connector_types.haihai_kintone.stop_ban import demo as stop_ban_demo
from portal.connector_types.registry import get_connector_type
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

INDUSTRIES = ("製造業", "情報通信業", "小売業", "卸売業", "建設業", "金融業", "医療福祉", "教育")
REGIONS = ("北海道", "東北", "関東", "中部", "近畿", "中国", "四国", "九州沖縄")
PRODUCTS = ("勤怠管理", "経費精算", "顧客管理", "電子契約", "ワークフロー")
NEWSLETTERS = ("製品ニュース", "セミナー案内", "導入事例", "キャンペーン")
RANKS = ("A", "B", "C")
TEAMS = ("営業部", "マーケティング部", "カスタマーサクセス部")
OWNERS = (
    ("sato", "佐藤 健一"),
    ("suzuki", "鈴木 美咲"),
    ("takahashi", "高橋 翔太"),
    ("tanaka", "田中 由美"),
)
SURNAMES = (
    ("佐藤", "さとう", "sato"),
    ("鈴木", "すずき", "suzuki"),
    ("高橋", "たかはし", "takahashi"),
    ("田中", "たなか", "tanaka"),
    ("伊藤", "いとう", "ito"),
    ("渡辺", "わたなべ", "watanabe"),
    ("山本", "やまもと", "yamamoto"),
    ("中村", "なかむら", "nakamura"),
    ("小林", "こばやし", "kobayashi"),
    ("加藤", "かとう", "kato"),
    ("吉田", "よしだ", "yoshida"),
    ("山田", "やまだ", "yamada"),
    ("佐々木", "ささき", "sasaki"),
    ("山口", "やまぐち", "yamaguchi"),
    ("松本", "まつもと", "matsumoto"),
    ("井上", "いのうえ", "inoue"),
    ("木村", "きむら", "kimura"),
    ("林", "はやし", "hayashi"),
    ("斎藤", "さいとう", "saito"),
    ("清水", "しみず", "shimizu"),
)
GIVEN_NAMES = (
    ("翔", "しょう", "sho"),
    ("陽菜", "ひな", "hina"),
    ("大輝", "だいき", "daiki"),
    ("結衣", "ゆい", "yui"),
    ("拓海", "たくみ", "takumi"),
    ("美咲", "みさき", "misaki"),
    ("健太", "けんた", "kenta"),
    ("彩", "あや", "aya"),
    ("直樹", "なおき", "naoki"),
    ("真由美", "まゆみ", "mayumi"),
    ("浩二", "こうじ", "koji"),
    ("由紀", "ゆき", "yuki"),
    ("誠", "まこと", "makoto"),
    ("千尋", "ちひろ", "chihiro"),
    ("隆", "たかし", "takashi"),
    ("恵", "めぐみ", "megumi"),
)
COMPANY_WORDS = (
    ("さくら", "sakura"),
    ("みらい", "mirai"),
    ("あおば", "aoba"),
    ("ひかり", "hikari"),
    ("つばさ", "tsubasa"),
    ("やまと", "yamato"),
    ("はるか", "haruka"),
    ("こだま", "kodama"),
    ("あさひ", "asahi"),
    ("しらかば", "shirakaba"),
)
COMPANY_KINDS = (
    ("テクノロジー", "tech"),
    ("商事", "shoji"),
    ("製作所", "works"),
    ("物産", "bussan"),
    ("システムズ", "systems"),
    ("ホールディングス", "hd"),
)
# Domains reserved for documentation (RFC 2606 and JPRS): the demo never mails anyone real.
MAIL_DOMAINS = ("example.co.jp", "example.jp", "example.com")


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


def sample_people(count: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """`count` deterministic sample customers with Japanese names, companies and emails."""
    rng = random.Random(seed)
    people = []
    used: set[str] = set()
    today = dt.date(2024, 6, 1)
    for index in range(count):
        surname, surname_kana, surname_roman = rng.choice(SURNAMES)
        given, given_kana, given_roman = rng.choice(GIVEN_NAMES)
        word, word_roman = rng.choice(COMPANY_WORDS)
        kind, kind_roman = rng.choice(COMPANY_KINDS)
        domain = f"{word_roman}-{kind_roman}.{rng.choice(MAIL_DOMAINS)}"
        local = f"{given_roman}.{surname_roman}"
        email = f"{local}@{domain}"
        if email in used:
            email = f"{local}{index}@{domain}"
        used.add(email)
        employees = rng.choice((8, 25, 60, 120, 300, 850, 2400))
        contact = today - dt.timedelta(days=rng.randint(0, 720))
        meeting = dt.datetime.combine(
            contact + dt.timedelta(days=rng.randint(0, 60)),
            dt.time(rng.randint(9, 17), rng.choice((0, 15, 30, 45))),
            dt.UTC,
        ) - dt.timedelta(hours=9)  # business hours in Japan, stored in UTC
        people.append(
            {
                "email": email,
                "company": f"株式会社{word}{kind}",
                "name": f"{surname} {given}",
                "name_kana": f"{surname_kana}\u3000{given_kana}",
                "website": f"https://www.{domain}/",
                "notes": rng.choice(
                    (
                        "",
                        "展示会で名刺交換。",
                        "資料請求あり。来期の導入を検討中。",
                        "既存顧客。契約更新は3月。",
                        "オンラインセミナーに参加。",
                    )
                ),
                "employees": employees,
                "industry": rng.choice(INDUSTRIES),
                "region": rng.choice(REGIONS),
                "interests": sorted(rng.sample(PRODUCTS, rng.randint(0, 3))),
                "newsletters": sorted(rng.sample(NEWSLETTERS, rng.randint(0, 2))),
                "rank": rng.choice(RANKS),
                "first_contact": contact.isoformat(),
                "last_meeting": meeting.strftime("%Y-%m-%dT%H:%M:00Z"),
                "owner": rng.choice(OWNERS),
                "team": rng.choice(TEAMS),
            }
        )
    return people


def _kintone_record(person: Mapping[str, Any]) -> dict[str, Any]:
    owner_code, _owner_name = person["owner"]
    return {
        "email": {"value": person["email"]},
        "company": {"value": person["company"]},
        "name": {"value": person["name"]},
        "name_kana": {"value": person["name_kana"]},
        "website": {"value": person["website"]},
        "notes": {"value": person["notes"]},
        "employees": {"value": str(person["employees"])},
        "industry": {"value": person["industry"]},
        "region": {"value": person["region"]},
        "interests": {"value": list(person["interests"])},
        "newsletters": {"value": list(person["newsletters"])},
        "rank": {"value": person["rank"]},
        "first_contact": {"value": person["first_contact"]},
        "last_meeting": {"value": person["last_meeting"]},
        "owner": {"value": [{"code": owner_code}]},
        "team": {"value": [{"code": person["team"]}]},
        "delivery_state": {"value": "配信可能"},
    }


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


def _haihai_customer(person: Mapping[str, Any], index: int) -> dict[str, Any]:
    memberships = [{"gid": "1", "state": "ok"}]
    if index % 3 == 0:
        memberships.append({"gid": "2", "state": "ok"})
    if index % 17 == 0:
        memberships[0]["state"] = "stop"
    if index % 29 == 0:
        memberships[0]["state"] = "ban"
    if index % 5 == 0:
        memberships.append({"spid": "1", "state": "ok"})
    return {
        "email": person["email"],
        "values": {
            "会社名": person["company"],
            "氏名": person["name"],
            "業種": person["industry"],
            "地域": person["region"],
        },
        "memberships": memberships,
    }


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
        records=[_kintone_record(p) for p in people] + stop_ban_demo.example_records(),
    )
    customers = [_haihai_customer(p, i) for i, p in enumerate(people[:SAMPLE_CUSTOMER_COUNT])]
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
        f"{haihai_url}/_sandbox/events", {"account": DEMO_HAIHAI_ACCOUNT, "events": _events(people)}
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


def _events(people: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A few days of opens and clicks of two newsletters by the first customers."""
    rng = random.Random(7)
    events = []
    for index, person in enumerate(people[:SAMPLE_CUSTOMER_COUNT:2]):
        day = 1 + index % 5
        events.append(
            {
                "action_type": "open",
                "email": person["email"],
                "mail_id": "1",
                "mail_type": "group",
                "subject": "【製品ニュース】6月号",
                "occurred_at": f"2024-06-0{day} {rng.randint(9, 20):02d}:{rng.randint(0, 59):02d}:00",
            }
        )
        if index % 3 == 0:
            events.append(
                {
                    "action_type": "click",
                    "email": person["email"],
                    "mail_id": "1",
                    "mail_type": "group",
                    "subject": "【製品ニュース】6月号",
                    "url": "https://www.example.jp/seminar/2024-07",
                    "occurred_at": f"2024-06-0{day} 21:{rng.randint(0, 59):02d}:00",
                }
            )
    return events


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
    from portal.settings.steps import replace_mapping_rows

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
