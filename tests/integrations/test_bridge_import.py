"""Bridgeフォーム連携 against both sandboxes: per-form windows, RH01AnswerId identity, 全件, plan."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.syncs.context import RunFailed
from tests.support.event_env import TOKYO, answer, make_bridge_env
from tests.support.settings_env import make_env


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def bridge(app, client, kintone_sandbox, haihai_sandbox):
    return make_bridge_env(make_env(app, client, kintone_sandbox, haihai_sandbox))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2024, 3, day, hour, minute, second, tzinfo=TOKYO)


def test_answers_of_every_form_are_imported_with_the_fixed_fields(bridge):
    bridge.answers(
        answer(
            "101", "taro@example.jp", at(26, 8, 50, 26), 氏名="山田 太郎", 会社名="株式会社サンプル"
        ),
        answer("102", "hanako@example.jp", at(26, 8, 50, 35)),
        answer("101", "yesterday@example.jp", at(25, 23, 59, 59)),
    )
    outcome = bridge.run(at(26, 9))
    assert (outcome.processed, outcome.total) == (2, 2)
    records = {r["RH01FormId"]["value"]: r for r in bridge.records()}
    first = records["101"]
    values = {code: first[code]["value"] for code in first if code.startswith("RH01")}
    assert values["RH01FormName"] == "お問い合わせフォーム"
    assert values["RH01AnswerDateTime"] == "2024-03-25T23:50:00Z"  # 08:50 JST, no seconds
    assert values["RH01RecordTimeStamp"] == "2024-03-26 08:50:26"  # the seconds are kept here
    assert values["RH01RecordDate"] == "2024-03-26"
    assert values["RH01RecordLastUpdateDate"] == "2024-03-26 09:00:00"
    assert values["RH01MailAddress"] == "taro@example.jp"
    assert "山田 太郎" in values["RH01Answer"] and values["RH01AnswerId"].isdigit()
    assert values["RH01HaihaiCustId"].isdigit()
    assert outcome.message_detail == (
        "お問い合わせフォーム\n連携されたデータ: 2024-03-26 00:00:00 ~ 2024-03-26 08:50:26\n\n"
        "資料ダウンロードフォーム\n連携されたデータ: 2024-03-26 00:00:00 ~ 2024-03-26 08:50:35"
    )
    assert bridge.watermarks() == {"101": at(26, 8, 50, 26), "102": at(26, 8, 50, 35)}


def test_late_answers_repeats_and_full_runs_never_duplicate(bridge):
    bridge.answers(answer("101", "a@example.jp", at(26, 8)))
    bridge.run(at(26, 9))
    # An answer that shows up late, behind the watermark, within the overlap window.
    bridge.answers(answer("101", "late@example.jp", at(26, 7, 30)))
    assert bridge.run(at(26, 9, 30)).processed == 1
    assert bridge.run(at(26, 10)).total == 0
    full = {
        "mode": "full",
        "start_date": "2024-03-20",
        "start_hour": "0",
        "start_minute": "0",
        "end_date": "2024-03-26",
        "end_hour": "23",
        "end_minute": "59",
    }
    assert bridge.run(at(26, 10, 30), **full).total == 0
    assert sorted(bridge.values("RH01MailAddress")) == ["a@example.jp", "late@example.jp"]


def test_run_page_choice_of_forms_limits_the_run(bridge):
    bridge.answers(
        answer("101", "a@example.jp", at(26, 8)),
        answer("102", "b@example.jp", at(26, 8)),
    )
    outcome = bridge.run(at(26, 9), form_mode="selected", forms=["102"])
    assert outcome.processed == 1
    assert bridge.values("RH01FormId") == ["102"]
    assert set(bridge.watermarks()) == {"102"}


def test_a_form_not_imported_for_weeks_reports_the_excluded_period(bridge):
    bridge.answers(answer("101", "a@example.jp", at(1, 0)))
    bridge.run(at(1, 0, 30), form_mode="selected", forms=["101"])
    bridge.answers(answer("101", "b@example.jp", at(25, 14, 26, 20)))
    outcome = bridge.run(at(25, 16, 39, 26), form_mode="selected", forms=["101"])
    assert outcome.message_detail == (
        "お問い合わせフォーム\n"
        "連携されたデータ: 2024-03-18 00:00:00 ~ 2024-03-25 14:26:20\n"
        "\n"
        "以下の期間のデータはkintoneに連携されませんでした。\n"
        "手動実行画面より「全件」を指定し、必要な期間のデータの連携処理を行ってください。\n"
        "(期間の指定は、最大7日間となります)\n"
        "連携除外期間: 2024-03-01 00:00:01 ~ 2024-03-17 23:59:59"
    )


def test_without_the_bridge_plan_the_run_fails_with_the_manuals_reason(bridge):
    bridge.env.haihai_admin("PATCH", "", {"plan": "standard"})
    assert bridge.env.post("/haihai-sync", bridge.env.access_form()).status_code == 200
    with pytest.raises(RunFailed) as failed:
        bridge.run(at(26, 9))
    assert "「Bridgeプラン」をご契約いただく必要があります" in failed.value.message
