"""顧客反応履歴情報取込連携 against both sandboxes: configured through the settings page, run by
its handler over real HTTP. Covers the windows, late events, repeats, 全件, drift and failures."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from portal.db import session_scope
from portal.models.event_imports import EventWatermark
from portal.syncs.context import RunFailed
from tests.support.event_env import (
    TOKYO,
    ReactionEnv,
    allow_legacy,
    create_event_app,
    event,
    make_reaction_env,
    reaction_form,
)
from tests.support.settings_env import HAIHAI_KEY, SUBDOMAIN, make_env


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def reaction(app, client, kintone_sandbox, haihai_sandbox):
    return make_reaction_env(make_env(app, client, kintone_sandbox, haihai_sandbox))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2024, 6, day, hour, minute, second, tzinfo=TOKYO)


def test_first_diff_run_imports_todays_events_with_every_fixed_field(reaction):
    reaction.events(
        event("open", "before@example.jp", at(9, 23, 59, 59)),
        event("open", "taro@example.jp", at(10, 0)),
        event("click", "taro@example.jp", at(10, 9, 30, 15)),
        event("visit", "hanako@example.jp", at(10, 11, 59, 59)),
        event("open", "later@example.jp", at(10, 12)),  # the run's own second: next run
    )
    outcome = reaction.run()
    assert (outcome.processed, outcome.total) == (3, 3)
    records = {r["RH01ActionType"]["value"]: r for r in reaction.records()}
    assert set(records) == {"開封", "クリック", "Web来訪"}
    click = records["クリック"]
    assert {code: click[code]["value"] for code in click if code.startswith("RH01")} == {
        "RH01MailAddress": "taro@example.jp",
        "RH01RecordDatetime": "2024-06-10 09:30:15",
        "RH01RecordDatetime2": "2024-06-10T00:30:00Z",
        "RH01ActionType": "クリック",
        "RH01MailType": "グループ配信",
        "RH01MailId": "1",
        "RH01Detail": click["RH01Detail"]["value"],
        "RH01ClickURL": "https://www.example.jp/seminar",
        "RH01TagName": "",
        "RH01FileName": "",
        "RH01RecordDate": "2024-06-10",
        "RH01RecordLastUpdateDate": "2024-06-10 12:00:00",
    }
    assert records["Web来訪"]["RH01TagName"]["value"] == "visit-tag"
    assert reaction.watermarks() == {
        "open": at(10, 0),
        "click": at(10, 9, 30, 15),
        "visit": at(10, 11, 59, 59),
    }
    assert outcome.message_detail == (
        "メール開封\n連携されたデータ: 2024-06-10 00:00:00 ~ 2024-06-10 00:00:00\n\n"
        "URLクリック\n連携されたデータ: 2024-06-10 00:00:00 ~ 2024-06-10 09:30:15\n\n"
        "Web来訪\n連携されたデータ: 2024-06-10 00:00:00 ~ 2024-06-10 11:59:59"
    )


def test_repeat_writes_nothing_and_late_events_are_imported_once(reaction):
    reaction.events(event("open", "a@example.jp", at(10, 11, 0)))
    reaction.run()
    assert reaction.run(at(10, 12, 30)).total == 0  # nothing new: 0 / 0
    # 配配メール shows two events late: one behind the watermark, one after it.
    reaction.events(
        event("open", "late@example.jp", at(10, 10, 40)),
        event("open", "new@example.jp", at(10, 12, 10)),
    )
    outcome = reaction.run(at(10, 13))
    assert (outcome.processed, outcome.total) == (2, 2)
    assert sorted(reaction.values("RH01MailAddress")) == [
        "a@example.jp",
        "late@example.jp",
        "new@example.jp",
    ]
    assert "連携されたデータ: 2024-06-10 10:40:00 ~ 2024-06-10 12:10:00" in outcome.message_detail
    assert reaction.run(at(10, 14)).total == 0
    assert len(reaction.records()) == 3


def test_identical_events_in_one_second_are_both_kept(reaction):
    same = event("open", "twice@example.jp", at(10, 9))
    reaction.events(same, same)
    assert reaction.run().processed == 2
    assert reaction.run(at(10, 12, 5)).total == 0
    assert len(reaction.records()) == 2


def test_a_watermark_older_than_seven_days_reports_the_excluded_period(reaction):
    with reaction.env.app.app_context(), session_scope() as session:
        session.add(
            EventWatermark(
                connector_id=reaction.env.connector_id,
                role="reaction",
                stream="open",
                imported_until=at(1, 21, 15, 8),
            )
        )
    reaction.events(
        event("open", "old@example.jp", at(2, 10)),  # in the excluded period
        event("open", "kept@example.jp", at(3, 0)),
        event("open", "last@example.jp", at(9, 21, 15, 7)),
    )
    outcome = reaction.run(at(10, 1, 32, 14), types=["open"])
    assert reaction.values("RH01MailAddress") == ["kept@example.jp", "last@example.jp"]
    assert outcome.message_detail == (
        "メール開封\n"
        "連携されたデータ: 2024-06-03 00:00:00 ~ 2024-06-09 21:15:07\n"
        "\n"
        "以下の期間のデータはkintoneに連携されませんでした。\n"
        "手動実行画面より「全件」を指定し、必要な期間のデータの連携処理を行ってください。\n"
        "(期間の指定は、最大7日間となります)\n"
        "連携除外期間: 2024-06-01 21:15:09 ~ 2024-06-02 23:59:59"
    )
    # The excluded period is imported by 全件; nothing there is written twice.
    full = {
        "mode": "full",
        "start_date": "2024-06-01",
        "start_hour": "0",
        "start_minute": "0",
        "end_date": "2024-06-07",
        "end_hour": "23",
        "end_minute": "59",
    }
    outcome = reaction.run(at(10, 2), types=["open"], **full)
    assert (outcome.processed, outcome.total) == (1, 1)
    assert sorted(reaction.values("RH01MailAddress")) == [
        "kept@example.jp",
        "last@example.jp",
        "old@example.jp",
    ]
    assert reaction.run(at(10, 3), types=["open"], **full).total == 0
    # 全件 does not move the 差分 watermark.
    assert reaction.watermarks()["open"] == at(9, 21, 15, 7)


def test_full_range_over_eight_calendar_days_is_refused(reaction):
    with pytest.raises(RunFailed) as refused:
        reaction.run(
            mode="full",
            start_date="2024-06-01",
            start_hour="23",
            start_minute="0",
            end_date="2024-06-08",
            end_hour="22",
            end_minute="59",
        )
    assert refused.value.message == "日時(開始、終了)の期間は7日以内にて指定してください。"


def test_a_fixed_field_lost_after_saving_fails_the_run_before_any_write(reaction):
    reaction.events(event("open", "a@example.jp", at(10, 9)))
    body = {"subdomain": SUBDOMAIN, "app": reaction.app_id, "delete": ["RH01Detail"]}
    requests.post(f"{reaction.env.kintone_url}/_sandbox/fields", json=body, timeout=10)
    with pytest.raises(RunFailed) as failed:
        reaction.run()
    assert failed.value.code == "field_missing"
    assert (
        "フィールド「内容」（フィールドコード: RH01Detail、文字列 (1行)）がありません。"
        in failed.value.message
    )
    assert "kintoneへの登録は行っていません" in failed.value.message
    assert reaction.records() == [] and reaction.watermarks() == {}


def test_database_items_are_written_from_the_customer_database(
    app, client, kintone_sandbox, haihai_sandbox
):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    extra = {
        "company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"},
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": {"製造業": {"label": "製造業", "index": "0"}},
        },
    }
    reaction = make_reaction_env(env, extra=extra)
    mapped = {
        "reaction_map-0-kintone": "company",
        "reaction_map-0-haihai_id": "I11",
        "reaction_map-1-kintone": "industry",
        "reaction_map-1-haihai_id": "I12",
    }
    reaction.save(reaction_types=["open"], **mapped)
    customers = [
        {"email": f"user{i:04d}@example.jp", "values": {"会社名": f"会社{i}", "業種": "製造業"}}
        for i in range(2500)
    ]
    customers[2100]["values"]["業種"] = "小売業"  # not an option of the kintone field
    requests.post(
        f"{env.haihai_url}/_sandbox/customers",
        json={"account": HAIHAI_KEY, "customers": customers},
        timeout=60,
    ).raise_for_status()
    reaction.events(
        *(
            event("open", c["email"], at(10, 1) + dt.timedelta(seconds=i))
            for i, c in enumerate(customers)
        )
    )
    with pytest.raises(RunFailed) as failed:
        reaction.run()
    message = failed.value.message
    assert "フィールド「業種」（フィールドコード: industry）" in message
    assert "登録できなかったデータ: メール開封 2024-06-10 01:35:00 user2100@example.jp" in message
    assert "それまでの2000件はkintoneに登録済みです。" in message
    assert (failed.value.processed, failed.value.total) == (2000, 2500)
    assert len(reaction.records()) == 2000
    # The watermark stops before the first record that was not written.
    assert reaction.watermarks()["open"] == at(10, 1) + dt.timedelta(seconds=1999)

    # Once kintone accepts the value, the next run writes the rest and nothing twice.
    body = {
        "subdomain": SUBDOMAIN,
        "app": reaction.app_id,
        "update": {
            "industry": {
                "options": {
                    "製造業": {"label": "製造業", "index": "0"},
                    "小売業": {"label": "小売業", "index": "1"},
                }
            }
        },
    }
    requests.post(f"{env.kintone_url}/_sandbox/fields", json=body, timeout=10).raise_for_status()
    outcome = reaction.run(at(10, 12, 30))
    assert (outcome.processed, outcome.total) == (500, 500)
    records = reaction.records()
    assert len(records) == 2500
    assert len({r["RH01MailAddress"]["value"] for r in records}) == 2500
    by_mail = {r["RH01MailAddress"]["value"]: r for r in records}
    assert by_mail["user0007@example.jp"]["company"]["value"] == "会社7"
    assert by_mail["user2100@example.jp"]["industry"]["value"] == "小売業"


def test_legacy_method_writes_its_nine_fields_and_finds_duplicates_by_day(
    app, client, kintone_sandbox, haihai_sandbox
):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    env.haihai_admin("PATCH", "", {"plan": "bridge"})
    env.sync_both()
    assert env.post("", env.valid_form()).status_code == 200
    allow_legacy(app, env.connector_id)
    app_id, _token = create_event_app(env.kintone_url, SUBDOMAIN, "reaction", legacy=True)
    env.post("/events/reaction/app-sync", reaction_form(app_id, reaction_method="legacy"))
    reaction = ReactionEnv(env, app_id)
    reaction.save(reaction_method="legacy", reaction_types=["open", "click"])
    reaction.events(
        event("open", "a@example.jp", at(10, 8)),
        event("click", "a@example.jp", at(10, 8, 1)),
    )
    assert reaction.run().processed == 2
    record = reaction.records()[0]
    assert "RH01RecordDatetime2" not in record and "RH01TagName" not in record
    reaction.events(event("open", "late@example.jp", at(10, 11, 30)))
    assert reaction.run(at(10, 12, 10)).processed == 1
    assert reaction.run(at(10, 12, 20)).total == 0
    assert len(reaction.records()) == 3
    assert reaction.watermarks()["open"] == at(10, 11, 30)
