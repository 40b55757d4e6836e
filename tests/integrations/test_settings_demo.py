"""Demo fixtures against the real sandboxes: seeded data, and a connector that syncs at once."""

from __future__ import annotations

import pytest
import requests

from portal.connector_types.haihai_kintone.stop_ban.demo import EXAMPLE_EMAILS, example_customers
from portal.connector_types.haihai_kintone.stop_ban.sync import haihai_opener, sync_stop_ban
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.demo_fixtures import (
    DEMO_CUSTOMER_COUNT,
    DEMO_RECORD_COUNT,
    configure_demo_connector,
    configure_same_field_demo_connector,
    customer_app_fields,
    seed_sandboxes,
)
from portal.integrations.haihai import HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.models import Account
from portal.syncs.kintone_schema import MAPPABLE_TYPE_CODES


@pytest.fixture(scope="module")
def sandboxes(kintone_sandbox_server, haihai_sandbox_server):
    """Both sandboxes seeded once for this module."""
    for server in (kintone_sandbox_server, haihai_sandbox_server):
        requests.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    seeds = seed_sandboxes(kintone_sandbox_server.url, haihai_sandbox_server.url)
    return kintone_sandbox_server.url, haihai_sandbox_server.url, seeds


def test_demo_app_has_a_field_of_every_mappable_type_and_realistic_records(sandboxes):
    kintone_url, _haihai_url, seeds = sandboxes
    kintone = seeds["kintone"]
    with KintoneClient(
        f"{kintone_url}/{kintone['subdomain']}", api_tokens=[kintone["api_token"]]
    ) as client:
        fields = client.get_form_fields(int(kintone["app_id"]))
        records = list(client.iter_records(int(kintone["app_id"])))
    present = {prop["type"] for prop in fields.values()}
    # Process-management fields exist only when that feature is on; everything else is there.
    assert MAPPABLE_TYPE_CODES - {"STATUS", "STATUS_ASSIGNEE"} <= present
    assert set(customer_app_fields()) <= set(fields)
    assert len(records) == DEMO_RECORD_COUNT == seeds["records"]
    emails = [r["email"]["value"] for r in records]
    assert len(set(emails)) == len(emails)
    samples = [e for e in emails if e not in EXAMPLE_EMAILS]
    assert len(samples) == len(emails) - 4
    assert all(e.endswith((".example.co.jp", ".example.jp", ".example.com")) for e in samples)
    first = records[0]
    assert first["company"]["value"].startswith("株式会社")
    assert " " in first["name"]["value"]
    assert first["owner"]["value"][0]["name"] != first["owner"]["value"][0]["code"]


def test_demo_haihai_account_matches_the_app(sandboxes):
    _kintone_url, _haihai_url, seeds = sandboxes
    haihai = seeds["haihai"]
    with HaihaiClient(
        haihai["url"], haihai["login_id"], haihai["api_token"], allow_local=True
    ) as c:
        items = {item.label: item for item in c.list_items()}
        groups = c.list_groups()
        plans = c.list_step_plans()
        forms = c.list_forms()  # Bridge plan
        customers = list(c.iter_customers())
    assert items["メールアドレス"].is_email
    assert {"会社名", "氏名", "業種", "関心のある製品", "初回接触日"} <= set(items)
    assert [g.name for g in groups][:2] == ["メールマガジン購読者", "セミナー案内"]
    assert len(plans) == 2 and len(forms) == 2
    assert len(customers) == DEMO_CUSTOMER_COUNT == seeds["customers"]


def test_seeding_twice_keeps_one_app_and_one_account(sandboxes):
    kintone_url, haihai_url, seeds = sandboxes
    again = seed_sandboxes(kintone_url, haihai_url)
    assert again["kintone"] == seeds["kintone"]
    dump = requests.get(
        f"{kintone_url}/_sandbox/records",
        params={"subdomain": seeds["kintone"]["subdomain"], "app": seeds["kintone"]["app_id"]},
        timeout=10,
    ).json()
    assert len(dump["records"]) == DEMO_RECORD_COUNT


def test_demo_connector_is_synced_and_mapped_for_a_first_run(app, sandboxes):
    from tests.support.accounts import create_account

    kintone_url, haihai_url, seeds = sandboxes
    account = create_account(app, "DEMO01")
    with app.app_context(), session_scope() as session:
        connector = configure_demo_connector(
            session, account.id, kintone_url + "/{subdomain}", haihai_url, seeds
        )
        connector_id = connector.id
        assert session.get(Account, account.id).connector_id == "DEMO01"
    with app.app_context(), session_scope() as session:
        config = load_connector_config(
            session, connector_id, kintone_base_template=kintone_url + "/{subdomain}"
        )
    assert config.kintone.base_url == f"{kintone_url}/demo"
    assert config.haihai.base_url == seeds["haihai"]["url"]
    assert config.email_mapping.kintone_code == "email"
    assert config.email_display_name == "メールアドレス"
    mapped = {m.kintone_code: m.haihai_item for m in config.mappings}
    assert mapped["company"] == "会社名" and mapped["interests"] == "関心のある製品"
    assert len(mapped) == 15
    assert (
        config.section("step7").timing == "manual"
        and config.section("step7").target_field == "view_url"
    )
    assert "owner" in config.kintone_fields


def test_demo_connector_without_sandboxes_keeps_its_settings_unsynced(app, sandboxes):
    from sandbox.serve import free_port
    from tests.support.accounts import create_account

    _kintone_url, _haihai_url, seeds = sandboxes
    closed = f"http://127.0.0.1:{free_port()}"
    account = create_account(app, "DEMO02")
    with app.app_context(), session_scope() as session:
        connector = configure_demo_connector(
            session, account.id, closed + "/{subdomain}", closed, seeds
        )
        config = load_connector_config(
            session, connector.id, kintone_base_template=closed + "/{subdomain}"
        )
    assert config.haihai.base_url == f"{closed}/{seeds['haihai']['account_key']}/"
    assert config.kintone.app_id == seeds["kintone"]["app_id"]
    assert config.mappings == () and config.kintone_fields == {}


def test_every_demo_customer_sync_setting_runs_against_the_sandboxes(app, sandboxes):
    """Settings 1–6 of the demo cover every target and mode, and each one succeeds."""
    from portal.connector_types.haihai_kintone.customer.sync import run_customer_sync
    from tests.support.accounts import create_account

    kintone_url, haihai_url, seeds = sandboxes
    template = kintone_url + "/{subdomain}"
    account = create_account(app, "DEMO02")
    with app.app_context(), session_scope() as session:
        connector_id = configure_demo_connector(session, account.id, template, haihai_url, seeds).id
    with app.app_context(), session_scope() as session:
        config = load_connector_config(session, connector_id, kintone_base_template=template)
    settings = {s.number: s for s in config.section("step5")}
    assert {(s.target_type, s.mode) for s in settings.values()} == {
        ("database", "register"),
        ("group", "register"),
        ("step_plan", "register"),
        ("group", "status_change"),
        ("group", "delete"),
        ("step_plan", "status_change"),
    }
    with (
        KintoneClient(config.kintone.base_url, api_tokens=[config.kintone.api_token]) as kintone,
        HaihaiClient(
            config.haihai.base_url,
            config.haihai.login_id,
            config.haihai.api_token,
            allow_local=True,
        ) as haihai,
    ):
        outcomes = {
            number: run_customer_sync(
                config, setting, kintone_client=kintone, haihai_client=haihai, first_poll=0
            )
            for number, setting in sorted(settings.items())
        }
    assert outcomes[1].total == DEMO_RECORD_COUNT
    assert outcomes[1].processed == DEMO_RECORD_COUNT
    for number in (2, 3, 5, 6):
        assert 0 < outcomes[number].total < DEMO_RECORD_COUNT, number
        if number == 3:
            # Without 「データの上書き」 配配メール skips customers already in the plan and keeps
            # their data; 処理件数 leaves them out and メッセージ詳細 says why.
            assert outcomes[3].processed < outcomes[3].total
            assert "データを上書きしない設定のため" in outcomes[3].message_detail
        else:
            assert outcomes[number].processed == outcomes[number].total, number
    customers = requests.get(
        f"{haihai_url}/_sandbox/customers",
        params={"account": seeds["haihai"]["account_key"]},
        timeout=10,
    ).json()["customers"]
    in_plan_1 = [
        c
        for c in customers
        if any((m["type"], m["id"]) == ("step", "1") for m in c.get("memberships", []))
    ]
    assert len(in_plan_1) >= outcomes[3].processed


def test_demo_step6_settings_reproduce_both_examples_of_the_manual(app, sandboxes):
    """付録2.1: the demo connector writes example 1, the second demo connector example 2."""
    import datetime as dt

    from tests.support.accounts import create_account

    kintone_url, haihai_url, seeds = sandboxes
    # The customer-sync test of this module may have stopped ddd (「存在しない顧客を配信停止」).
    requests.post(
        f"{haihai_url}/_sandbox/customers",
        json={"account": seeds["haihai"]["account_key"], "customers": example_customers()},
        timeout=10,
    ).raise_for_status()
    template = kintone_url + "/{subdomain}"
    account = create_account(app, "DEMO03")
    with app.app_context(), session_scope() as session:
        first = configure_demo_connector(session, account.id, template, haihai_url, seeds).id
        second = configure_same_field_demo_connector(
            session, account.id, template, haihai_url, seeds
        ).id
    results = {}
    for connector_id in (first, second):
        with app.app_context(), session_scope() as session:
            config = load_connector_config(session, connector_id, kintone_base_template=template)
        assert config.section("step6").timing == "manual"
        with KintoneClient(config.kintone.base_url, api_tokens=[config.kintone.api_token]) as k:
            results[connector_id] = sync_stop_ban(
                config,
                kintone=k,
                open_haihai=haihai_opener(config, allow_local=True),
                moment=dt.datetime.now(dt.UTC),
            )
    dump = requests.get(
        f"{kintone_url}/_sandbox/records",
        params={"subdomain": seeds["kintone"]["subdomain"], "app": seeds["kintone"]["app_id"]},
        timeout=10,
    ).json()["records"]
    by_mail = {r["email"]["value"]: r for r in dump}
    table = {
        e: tuple(by_mail[e][c]["value"] for c in ("stop_flag", "ban_flag", "stop_ban_flag"))
        for e in EXAMPLE_EMAILS
    }
    assert table == {
        "aaa@example.com": ("配信停止", "配信禁止", "配信禁止"),
        "bbb@example.com": ("配信停止", "配信禁止ではない", "配信停止"),
        "ccc@example.com": ("配信停止ではない", "配信禁止", "配信禁止"),
        "ddd@example.com": ("配信停止ではない", "配信禁止ではない", "配信停止、配信禁止ではない"),
    }
    # Every record of the demo app has an address, and both settings reset the others.
    assert results[first].tally.targets == results[second].tally.targets == DEMO_RECORD_COUNT
