"""`flask connectors export | import | list` against the demo connector synced with the sandboxes."""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
import requests
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import func
from sqlmodel import select

from portal.connector_types import registry
from portal.connector_types.loading import load_connector_config
from portal.connector_types.registry import connector_types
from portal.crypto import decrypt
from portal.db import session_scope
from portal.demo_events import DEMO_APP_TOKENS
from portal.demo_fixtures import (
    DEMO_HAIHAI_TOKEN,
    DEMO_KINTONE_TOKEN,
    configure_demo_connector,
    seed_sandboxes,
)
from portal.models import Connector
from portal.runs.service import schedules_of
from portal.settings import messages as msg
from portal.settings.transfer import (
    MSG_FIELD_VALUE,
    MSG_SECRET_UNREADABLE,
    MSG_SECTION_UNKNOWN,
    MSG_VERSION,
    read_context,
)
from portal.syncs.config import ScheduleSpec
from tests.support import echo_connector
from tests.support.accounts import create_account

ECHO_MODULE = "tests.support.echo_connector"


@pytest.fixture(scope="module")
def sandboxes(kintone_sandbox_server, haihai_sandbox_server):
    """Both sandboxes seeded once with the demo app and account for this module."""
    for server in (kintone_sandbox_server, haihai_sandbox_server):
        requests.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    seeds = seed_sandboxes(kintone_sandbox_server.url, haihai_sandbox_server.url)
    return kintone_sandbox_server.url, haihai_sandbox_server.url, seeds


@pytest.fixture
def app_config(app_config, sandboxes):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": sandboxes[0] + "/{subdomain}"}


@pytest.fixture
def demo_id(app, sandboxes) -> str:
    """The demo connector (Steps 1–5 and 7, both sides synced) of account DEMO01."""
    kintone_url, haihai_url, seeds = sandboxes
    account = create_account(app, "DEMO01")
    with app.app_context(), session_scope() as session:
        return configure_demo_connector(
            session, account.id, kintone_url + "/{subdomain}", haihai_url, seeds
        ).id


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["connectors", *args])

    return invoke


def export(cli, connector_id: str, *options: str) -> str:
    result = cli("export", connector_id, *options)
    assert result.exit_code == 0, result.output
    return result.stdout


def import_text(cli, tmp_path, text: str, *options: str):
    path = tmp_path / "connector.yaml"
    path.write_text(text, encoding="utf-8")
    return cli("import", str(path), *options)


def import_document(cli, tmp_path, document: dict, *options: str):
    return import_text(cli, tmp_path, yaml.safe_dump(document, allow_unicode=True), *options)


def created_id(result) -> str:
    assert result.exit_code == 0, result.output
    found = re.fullmatch(r"(created|updated) connector (\w+)\n", result.stdout)
    assert found, result.stdout
    return found.group(2)


def error_lines(result) -> dict[str, str]:
    """{path: message} of a refused import (asserting it was refused and said so)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(r"\d+ error\(s\); nothing was saved", lines[-1]), lines
    return dict(line.split(": ", 1) for line in lines[:-1])


def connector_count(app) -> int:
    with app.app_context(), session_scope() as session:
        return session.exec(select(func.count()).select_from(Connector)).one()


def config_of(app, connector_id: str):
    with app.app_context(), session_scope() as session:
        config = load_connector_config(session, connector_id)
        return dataclasses.replace(config, connector_id="-"), schedules_of(session, connector_id)


def with_schedules(document: dict) -> dict:
    """The demo document with Step7 weekly, setting 3 on 月末日 and setting 6 daily."""
    edited = copy.deepcopy(document)
    step5, step7 = edited["settings"]["step5"], edited["settings"]["step7"]
    step7.update(
        {
            "view_url-timing": "schedule",
            "view_url-interval": "weekly",
            "view_url-weekday": ["0", "3"],
            "view_url-hours": ["6", "18"],
            "view_url-minute": "15",
        }
    )
    step5.update(
        {
            "customer-3-timing": "schedule",
            "customer-3-interval": "monthly",
            "customer-3-month_day": "last",
            "customer-3-hours": "2",
            "customer-3-minute": "0",
            "customer-6-timing": "schedule",
            "customer-6-interval": "daily",
            "customer-6-hours": "4",
            "customer-6-minute": "45",
        }
    )
    return edited


def normalized(app, text: str, connector_id: str) -> str:
    """An export with its connector ID and (freshly encrypted) secrets made comparable."""
    with app.app_context():
        text = re.sub(r"gAAAAA[\w=-]+", lambda m: "plain:" + decrypt(m.group(0)), text)
    return text.replace(connector_id, "<id>")


def copy_into_fresh_account(app, cli, tmp_path, connector_id: str, account: str) -> str:
    """Export `connector_id` with secrets, import it into a new account, and compare both ways."""
    original = config_of(app, connector_id)
    with_secrets = export(cli, connector_id, "--with-secrets")
    create_account(app, account)
    copy_id = created_id(import_text(cli, tmp_path, with_secrets, "--account", account))
    assert copy_id != connector_id
    again = export(cli, copy_id, "--with-secrets")
    # The same text apart from the connector ID and the encryption of the secrets …
    assert normalized(app, again, copy_id) == normalized(app, with_secrets, connector_id)
    assert f"plain:{DEMO_HAIHAI_TOKEN}" in normalized(app, again, copy_id)
    assert export(cli, copy_id).replace(copy_id, "<id>") == export(cli, connector_id).replace(
        connector_id, "<id>"
    )
    # … and what runs read is the same as before the export (settings, snapshots, schedules).
    assert config_of(app, copy_id) == original
    return copy_id


def test_export_then_import_into_a_fresh_account_round_trips_the_demo_connector(
    app, cli, demo_id, tmp_path
):
    demo_config, _schedules = config_of(app, demo_id)
    assert len(demo_config.section("step5")) == 6 and len(demo_config.mappings) == 15
    copy_into_fresh_account(app, cli, tmp_path, demo_id, "MOVE01")


def test_schedules_round_trip_and_an_import_updates_the_connector_it_came_from(
    app, cli, demo_id, tmp_path
):
    edited = with_schedules(yaml.safe_load(export(cli, demo_id)))
    assert created_id(import_document(cli, tmp_path, edited)) == demo_id
    assert yaml.safe_load(export(cli, demo_id)) == edited
    _config, schedules = config_of(app, demo_id)
    assert schedules == {
        "view_url": ScheduleSpec("weekly", weekdays=(0, 3), hours=(6, 18), minutes=(15,)),
        "customer:3": ScheduleSpec("monthly", month_days=("last",), hours=(2,), minutes=(0,)),
        "customer:6": ScheduleSpec("daily", hours=(4,), minutes=(45,)),
    }
    copy_into_fresh_account(app, cli, tmp_path, demo_id, "MOVE02")


def test_a_manual_method_connector_round_trips_with_typed_names_and_ids(
    app, cli, demo_id, tmp_path
):
    document = yaml.safe_load(export(cli, demo_id, "--with-secrets"))
    step2, step4 = document["settings"]["step2"], document["settings"]["step4"]
    step2["haihai_method"] = "manual"
    for name in [n for n in step4 if n.endswith("-haihai_id")]:
        del step4[name]
    step4.update(
        {
            "mapping-0-haihai": "メール（会社）",
            "email_custom": "1",
            "email_display_name": "メール（会社）",
        }
    )
    document["settings"]["step5"]["customer-2-target_id"] = "77"  # typed, not in the snapshot
    # Step8's 連携方式 needs the synced method (manual §2.1.3 step 11): switched off here.
    document["settings"]["step8"]["reaction-timing"] = "off"
    create_account(app, "MANUAL")
    manual_id = created_id(import_document(cli, tmp_path, document, "--account", "MANUAL"))
    config, _schedules = config_of(app, manual_id)
    assert config.email_display_name == "メール（会社）"
    assert config.section("step5")[1].target_id == "77"
    exported = yaml.safe_load(export(cli, manual_id))["settings"]
    assert exported["step4"]["email_custom"] == "1"
    assert "mapping-1-haihai_id" not in exported["step4"]
    copy_into_fresh_account(app, cli, tmp_path, manual_id, "MOVE03")


def test_export_is_readable_yaml_without_secrets_unless_asked(app, cli, demo_id):
    text = export(cli, demo_id)
    assert DEMO_HAIHAI_TOKEN not in text and DEMO_KINTONE_TOKEN not in text
    assert "encrypted" not in text
    assert "  step5:  # Step5. 顧客情報連携設定\n" in text
    document = yaml.safe_load(text)
    assert document["connector"] == {
        "id": demo_id,
        "kind": "haihai_kintone",
        "name": "デモ: 顧客リスト ⇄ 配配メール",
    }
    assert list(document["settings"]) == [
        "step1",
        "step2",
        "step3",
        "step4",
        "step5",
        "step6",
        "step7",
        "step8",
        "step9",
    ]
    assert document["settings"]["step4"]["mapping-0-kintone"] == "email"
    # Conditions are written as data, not as the hidden input's JSON text.
    assert document["settings"]["step5"]["customer-2-conditions"] == {
        "match": "all",
        "conditions": [
            {
                "field_code": "newsletters",
                "field_type": "MULTI_SELECT",
                "operator": "in",
                "value": ["製品ニュース", "セミナー案内"],
            }
        ],
    }
    assert document["synced"]["step3"]["app_name"] == "顧客リスト"
    assert document["synced"]["step2"]["snapshot"]["groups"][0]["name"] == "メールマガジン購読者"

    secret_text = export(cli, demo_id, "--with-secrets")
    assert DEMO_HAIHAI_TOKEN not in secret_text and DEMO_KINTONE_TOKEN not in secret_text
    secret = yaml.safe_load(secret_text)["settings"]
    with app.app_context():
        assert decrypt(secret["step2"]["haihai_api_token"]["encrypted"]) == DEMO_HAIHAI_TOKEN
        assert decrypt(secret["step3"]["kintone_api_token"]["encrypted"]) == DEMO_KINTONE_TOKEN


def test_export_to_a_file_is_private(cli, demo_id, tmp_path):
    target = tmp_path / "backup.yaml"
    result = cli("export", demo_id, "--with-secrets", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(target.read_text())["connector"]["id"] == demo_id


def test_invalid_fields_are_all_reported_with_their_paths_and_nothing_is_saved(
    app, cli, demo_id, tmp_path
):
    document = yaml.safe_load(export(cli, demo_id, "--with-secrets"))
    settings = document["settings"]
    settings["step3"]["kintone_app_id"] = "abc"
    settings["step4"]["mapping-1-haihai_id"] = "I99"
    settings["step5"]["customer-2-target_id"] = "99"
    settings["step5"]["customer-4-conditions"]["conditions"][0]["field_code"] = "nothing"
    settings["step7"]["view_url_target"] = "employees"
    settings["step7"]["view_url-timing"] = ["manual", {"a": [1]}, ["nested"]]
    settings["step99"] = {"anything": "1"}
    create_account(app, "MOVE01")
    before = connector_count(app)
    demo_before = export(cli, demo_id)

    for options in (("--account", "MOVE01"), ()):  # a new connector, then the demo itself
        errors = error_lines(import_document(cli, tmp_path, document, *options))
        assert errors["settings.step3.kintone_app_id"] == msg.KINTONE_APP_ID_FORMAT
        assert errors["settings.step4.mapping-1-haihai"] == msg.HAIHAI_ITEM_REQUIRED_SYNCED
        assert errors["settings.step5.customer-2-target_id"].startswith(
            "選択された配信グループは配配メールに存在しません。"
        )
        assert "settings.step5.customer-4-conditions" in errors
        assert errors["settings.step7.view_url-timing"] == MSG_FIELD_VALUE
        assert errors["settings.step99"] == MSG_SECTION_UNKNOWN.format(
            keys=", ".join(
                s.key for s in registry.get_connector_type("haihai_kintone").ordered_sections()
            )
        )
        assert connector_count(app) == before
        assert export(cli, demo_id) == demo_before

    # The page's own field rule, once the structure is right.
    settings["step7"]["view_url-timing"] = "manual"
    del settings["step99"]
    errors = error_lines(import_document(cli, tmp_path, document, "--account", "MOVE01"))
    assert errors["settings.step7.view_url_target"] == msg.VIEW_URL_FIELD_TYPE
    assert connector_count(app) == before


def test_secrets_left_out_keep_stored_ones_and_a_new_connector_needs_them(
    app, cli, demo_id, tmp_path
):
    plain = yaml.safe_load(export(cli, demo_id))
    plain["settings"]["step1"]["name"] = "改名した連携"
    assert created_id(import_document(cli, tmp_path, plain)) == demo_id
    with app.app_context(), session_scope() as session:
        config = load_connector_config(session, demo_id)
    assert config.name == "改名した連携" and config.haihai.api_token == DEMO_HAIHAI_TOKEN

    create_account(app, "MOVE01")
    errors = error_lines(import_document(cli, tmp_path, plain, "--account", "MOVE01"))
    # The demo's reaction and Bridge apps (Step8, Step9) have tokens of their own.
    assert errors == {
        "settings.step2.haihai_api_token": msg.REQUIRED,
        "settings.step3.kintone_api_token": msg.REQUIRED,
        "settings.step8.reaction_api_token": msg.REQUIRED,
        "settings.step9.bridge_api_token": msg.REQUIRED,
    }

    # A token typed in clear is taken; one encrypted under another key is refused.
    plain["settings"]["step3"]["kintone_api_token"] = DEMO_KINTONE_TOKEN
    for step, role in (("step8", "reaction"), ("step9", "bridge")):
        plain["settings"][step][f"{role}_api_token"] = DEMO_APP_TOKENS[role]
    other_key = Fernet(Fernet.generate_key())
    plain["settings"]["step2"]["haihai_api_token"] = {
        "encrypted": other_key.encrypt(DEMO_HAIHAI_TOKEN.encode()).decode()
    }
    errors = error_lines(import_document(cli, tmp_path, plain, "--account", "MOVE01"))
    assert errors == {"settings.step2.haihai_api_token": MSG_SECRET_UNREADABLE}
    plain["settings"]["step2"]["haihai_api_token"] = DEMO_HAIHAI_TOKEN
    copy_id = created_id(import_document(cli, tmp_path, plain, "--account", "MOVE01"))
    with app.app_context(), session_scope() as session:
        copied = load_connector_config(session, copy_id)
    assert copied.kintone.api_token == DEMO_KINTONE_TOKEN
    assert copied.haihai.api_token == DEMO_HAIHAI_TOKEN
    assert config_of(app, copy_id)[0].sections == config_of(app, demo_id)[0].sections


def test_a_section_left_out_keeps_its_stored_state(app, cli, demo_id, tmp_path):
    before = yaml.safe_load(export(cli, demo_id))
    partial = {
        "version": 1,
        "connector": before["connector"],
        "settings": {"step7": {"view_url-timing": "off"}},
    }
    assert created_id(import_document(cli, tmp_path, partial)) == demo_id
    after = yaml.safe_load(export(cli, demo_id))
    assert after["settings"]["step7"] == {"view_url-timing": "off"}
    after["settings"]["step7"] = before["settings"]["step7"]
    assert after == before


def test_schedules_that_may_coincide_need_confirmation(app, cli, demo_id, tmp_path):
    document = yaml.safe_load(export(cli, demo_id))
    step5 = document["settings"]["step5"]
    for number, day in ((1, "31"), (2, "last")):
        step5.update(
            {
                f"customer-{number}-timing": "schedule",
                f"customer-{number}-interval": "monthly",
                f"customer-{number}-month_day": day,
                f"customer-{number}-hours": "3",
                f"customer-{number}-minute": "0",
            }
        )
    result = import_document(cli, tmp_path, document)
    assert result.exit_code == 1
    assert "同じタイミングで実行される可能性があります" in result.stderr
    assert "--confirm-schedules" in result.stderr
    with app.app_context(), session_scope() as session:
        assert schedules_of(session, demo_id) == {}
    assert created_id(import_document(cli, tmp_path, document, "--confirm-schedules")) == demo_id
    with app.app_context(), session_scope() as session:
        assert set(schedules_of(session, demo_id)) == {"customer:1", "customer:2"}

    # Identical schedules are an error of the whole page.
    step5["customer-2-month_day"] = "31"
    errors = error_lines(import_document(cli, tmp_path, document, "--confirm-schedules"))
    assert list(errors) == ["settings"]
    assert "スケジュール設定が重複しています" in errors["settings"]


def test_outline_errors_name_their_place(app, cli, demo_id, tmp_path):
    document = yaml.safe_load(export(cli, demo_id))
    broken = copy.deepcopy(document)
    broken["version"] = 2
    broken["connector"]["kind"] = "nothing"
    assert error_lines(import_document(cli, tmp_path, broken)) == {
        "version": MSG_VERSION,
        "connector.kind": "この連携の種類はこのポータルにありません（haihai_kintone）。",
    }
    broken = copy.deepcopy(document)
    broken["synced"]["step3"]["fields"] = "text"
    broken["synced"]["step2"]["synced_at"] = "yesterday"
    broken["synced"]["step5"] = {"x": 1}
    errors = error_lines(import_document(cli, tmp_path, broken))
    assert set(errors) == {"synced.step3.fields", "synced.step2.synced_at", "synced.step5"}
    assert errors["synced.step5"] == "このセクションには同期データがありません。"

    errors = error_lines(import_text(cli, tmp_path, "settings: [unclosed\n"))
    assert list(errors) == ["(file)"] and "YAMLとして読み込めません" in errors["(file)"]

    moved = copy.deepcopy(document)
    moved["connector"]["id"] = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    errors = error_lines(import_document(cli, tmp_path, moved))
    assert errors["connector.id"].startswith(
        "連携設定 01JZZZZZZZZZZZZZZZZZZZZZZZ はこのポータルにありません"
    )
    result = import_document(cli, tmp_path, moved, "--account", "NOBODY")
    assert result.exit_code == 1 and "no account with connector ID 'NOBODY'" in result.output


def test_import_with_the_owning_account_updates_and_list_shows_every_connector(
    app, cli, demo_id, tmp_path
):
    document = yaml.safe_load(export(cli, demo_id))
    document["settings"]["step1"]["name"] = "同じアカウントで更新"
    assert created_id(import_document(cli, tmp_path, document, "--account", "DEMO01")) == demo_id
    listing = cli("list")
    assert listing.exit_code == 0
    assert f"{demo_id}\tDEMO01\thaihai_kintone\t同じアカウントで更新" in listing.stdout
    assert cli("list", "--account", "DEMO01").stdout.count("\n") == 2


def test_a_new_connector_needs_a_name_that_fits_the_connector_list(app, cli, demo_id, tmp_path):
    document = yaml.safe_load(export(cli, demo_id, "--with-secrets"))
    create_account(app, "MOVE01")
    del document["connector"]["name"]
    errors = error_lines(import_document(cli, tmp_path, document, "--account", "MOVE01"))
    assert errors == {"connector.name": "連携設定名を入力してください。"}
    document["connector"]["name"] = "長" * 101
    errors = error_lines(import_document(cli, tmp_path, document, "--account", "MOVE01"))
    assert errors == {"connector.name": "連携設定名は100文字以内で入力してください。"}
    # Updating without a name keeps the stored one.
    del document["connector"]["name"]
    assert created_id(import_document(cli, tmp_path, document)) == demo_id


@pytest.fixture
def echo_type():
    """The throw-away connector type of tests/support, registered for one test."""
    registry.load_connector_types(extra=[ECHO_MODULE])
    yield echo_connector
    registry.unregister_connector_type(echo_connector.KIND)
    registry._loaded_modules.discard(ECHO_MODULE)
    echo_connector.STORED.clear()


def test_a_type_from_its_own_folder_exports_and_imports_through_one_method(
    app, cli, echo_type, tmp_path
):
    account = create_account(app, "ECHO01")
    document = {
        "version": 1,
        "connector": {"kind": echo_type.KIND, "name": "エコー01"},
        "settings": {"echo": {"echo-timing": "manual", "echo-message": "こんにちは"}},
    }
    echo_id = created_id(import_document(cli, tmp_path, document, "--account", "ECHO01"))
    assert echo_type.STORED[echo_id] == echo_type.EchoSetting("manual", "こんにちは")
    exported = yaml.safe_load(export(cli, echo_id))
    assert exported == {**document, "connector": {"id": echo_id, **document["connector"]}}
    # The echo Step's own rule refuses, with its path, and nothing is stored.
    document["settings"]["echo"]["echo-timing"] = "schedule"
    errors = error_lines(import_document(cli, tmp_path, document, "--account", "ECHO01"))
    assert errors == {"settings.echo.echo-timing": "連携タイミングを選択してください。"}
    with app.app_context(), session_scope() as session:
        owned = session.exec(select(Connector).where(Connector.account_id == account.id)).all()
    assert [c.id for c in owned] == [echo_id]


def test_every_section_of_every_type_exports_a_fresh_connector(app):
    """A new section either posts plain stored values or implements form_fields itself."""
    account = create_account(app, "FRESH1")
    with app.app_context(), session_scope() as session:
        for connector_type in connector_types():
            connector = Connector(account_id=account.id, kind=connector_type.kind, name="新規")
            session.add(connector)
            session.flush()
            ctx = read_context(session, connector)
            for section in connector_type.sections:
                fields = section.form_fields(ctx)
                assert all(isinstance(v, str) for v in fields.values()), section.key
                assert set(section.secret_fields) <= set(fields), section.key
