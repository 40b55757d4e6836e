"""The demo's sample customers: deterministic Japanese names, companies and addresses (a seeded
random generator), as kintone records, as 配配メール customers and as newsletter events."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

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


def kintone_record(person: Mapping[str, Any]) -> dict[str, Any]:
    """A sample person as a record of the demo customer app."""
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


def haihai_customer(person: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The `index`-th sample person as a 配配メール customer (groups, plan, a few stopped/banned)."""
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


def newsletter_events(customers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A few days of opens and clicks of two newsletters by every second of `customers`."""
    rng = random.Random(7)
    events = []
    for index, person in enumerate(customers[::2]):
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
