"""In Chromium: Step8 and Step9 set up from the settings page (app sync, 「アプリを確認」, 連携項目,
フォーム選択), then the 実行 page: 差分 imports today's events, a late event is imported by the
next 差分 run only, 全件 over eight days is refused and over seven adds nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.demo_fixtures import create_haihai_account, create_kintone_app
from tests.support.event_env import (
    TOKYO,
    create_event_app,
    event,
    haihai_config,
    kintone_records,
    post_answers,
    post_events,
)

pytestmark = pytest.mark.e2e

SUBDOMAIN = "acme"
HAIHAI_KEY = "m13579"
HAIHAI_LOGIN = "e2e-events"
HAIHAI_TOKEN = "e2e0events0token000000000000001"
RUN_TIMEOUT_MS = 90_000
SHOTS = Path(os.environ.get("EVENT_SCREENSHOTS", "/tmp/event-import-screens"))


@pytest.fixture
def live_portal_env(kintone_sandbox) -> dict[str, str]:
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _seed(live_portal, kintone_url: str, haihai_url: str, owner: str) -> dict:
    app_id, token = create_kintone_app(
        kintone_url,
        subdomain=SUBDOMAIN,
        fields={
            "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
            "view_url": {"type": "LINK", "label": "顧客ページ", "protocol": "WEB"},
        },
        token="E2eCustomerAppToken000000000000000000002",
    )
    create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        plan="bridge",
        items=[{"item_id": "I10", "label": "会社名", "type": "text"}],
        forms=[
            {"form_id": "1", "form_name": "お問い合わせフォーム", "items": ["会社名"]},
            {"form_id": "2", "form_name": "資料ダウンロードフォーム", "items": ["会社名"]},
        ],
        customers=[
            {"email": f"user{i}@example.jp", "values": {"会社名": f"株式会社サンプル{i}"}}
            for i in range(5)
        ],
    )
    connector_id = live_portal.configure_demo_connector(
        owner,
        haihai_url,
        kintone={"subdomain": SUBDOMAIN, "app_id": app_id, "api_token": token},
        haihai={"account_key": HAIHAI_KEY, "login_id": HAIHAI_LOGIN, "api_token": HAIHAI_TOKEN},
    )
    reaction = create_event_app(
        kintone_url,
        SUBDOMAIN,
        "reaction",
        extra={"company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"}},
    )
    bridge = create_event_app(kintone_url, SUBDOMAIN, "bridge")
    return {"connector_id": connector_id, "reaction": reaction, "bridge": bridge}


def _today(minutes_ago: int) -> dt.datetime:
    now = dt.datetime.now(TOKYO).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    return max(midnight + dt.timedelta(seconds=1), now - dt.timedelta(minutes=minutes_ago))


def _sync_app(page, section, prefix: str, app_id: str, token: str) -> None:
    section.locator(f"input[name='{prefix}_app_id']").fill(app_id)
    section.locator(f"input[name='{prefix}_api_token']").fill(token)
    section.get_by_role("button", name="kintone項目の同期").click()
    expect(page.locator(f"#{prefix}-sync-done")).to_contain_text("kintone項目を同期しました")
    _settled(page)


def _last_run(page, name: str):
    return page.locator("tr.run-row").filter(has_text=name).first


def test_step8_and_step9_from_settings_to_diff_and_full_runs(
    signed_in_page, kintone_sandbox, haihai_sandbox
):
    portal, page = signed_in_page.portal, signed_in_page.page
    SHOTS.mkdir(parents=True, exist_ok=True)
    seeded = _seed(portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id)
    connector_id = seeded["connector_id"]
    haihai_config(haihai_sandbox, now=None, event_lag_seconds=0)
    post_events(
        haihai_sandbox,
        HAIHAI_KEY,
        [
            event("open", "user0@example.jp", _today(50)),
            event("open", "user1@example.jp", _today(40)),
            event("click", "user1@example.jp", _today(39)),
            event("visit", "user2@example.jp", _today(30)),  # Web来訪 is not chosen below
        ],
    )
    post_answers(
        haihai_sandbox,
        HAIHAI_KEY,
        [
            {
                "form_id": "1",
                "email": "user3@example.jp",
                "answered_at": _today(20),
                "answers": {"会社名": "株式会社サンプル3"},
            },
            {
                "form_id": "2",
                "email": "user4@example.jp",
                "answered_at": _today(10),
                "answers": {"会社名": "株式会社サンプル4"},
            },
        ],
    )
    portal.spawn("jobs", "worker")

    # --- Step8 ------------------------------------------------------------------------------
    page.goto(f"{portal.url}/connectors/{connector_id}/settings")
    step8 = page.locator("#section-step8")
    expect(step8.get_by_role("heading", name="Step8. 顧客反応履歴情報取込連携")).to_be_visible()
    expect(step8.get_by_text("kintoneテンプレート", exact=True)).to_be_hidden()  # 連携しない
    step8.get_by_label("手動実行").check()
    _settled(page)
    expect(step8.get_by_text("kintoneテンプレート", exact=True)).to_be_visible()
    expect(step8.get_by_role("link", name="ダウンロード")).to_have_attribute(
        "href", re.compile(r"/events/reaction/template\.zip$")
    )
    app_id, token = seeded["reaction"]
    _sync_app(page, step8, "reaction", app_id, token)
    step8 = page.locator("#section-step8")
    step8.get_by_role("button", name="アプリを確認").click()
    expect(page.locator("#reaction-check-ok")).to_have_text(
        "連携に必要なフィールドがすべて正しく設定されています。"
    )
    _settled(page)
    step8 = page.locator("#section-step8")
    step8.get_by_role("checkbox", name="メール開封").check()
    step8.get_by_role("checkbox", name="URLクリック").check()

    step8.get_by_role("button", name="連携項目の設定").click()
    dialog = page.locator("#reaction-mapping-dialog")
    expect(dialog.get_by_role("heading", name="連携項目の設定")).to_be_visible()
    _settled(page)
    expect(dialog.locator("tr.event-fixed-row")).to_have_count(12)
    dialog.get_by_label("追加するkintone項目").select_option("company")
    dialog.get_by_role("button", name="+ 追加").click()
    expect(dialog.locator("tr.event-mapping-row")).to_have_count(1)
    _settled(page)
    expect(dialog.get_by_label("会社名の連携先配配メール項目")).to_have_value("I10")
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#reaction-mapping-summary tr.event-mapping-row")).to_contain_text("会社名")

    # --- Step9 ------------------------------------------------------------------------------
    step9 = page.locator("#section-step9")
    step9.get_by_label("手動実行").check()
    _settled(page)
    app_id, token = seeded["bridge"]
    _sync_app(page, step9, "bridge", app_id, token)
    step9 = page.locator("#section-step9")
    step9.get_by_label("個別に選択する").check()
    step9.locator("select[name='bridge_forms']").select_option(["1", "2"])

    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    page.locator("#section-step8").screenshot(path=str(SHOTS / "step8.png"))
    page.locator("#section-step9").screenshot(path=str(SHOTS / "step9.png"))

    # --- 実行: 差分 -----------------------------------------------------------------------------
    page.goto(f"{portal.url}/connectors/{connector_id}/run")
    reaction = page.locator("#process-reaction")
    expect(reaction.locator(".event-watermark")).to_have_text(
        [re.compile(r"^メール開封: 未連携"), re.compile(r"^URLクリック: 未連携")]
    )
    reaction.get_by_role("button", name="実行する").click()
    expect(reaction.locator(".run-started")).to_be_visible()
    row = _last_run(page, "顧客反応履歴情報取込連携")
    expect(row.locator(".run-status-label")).to_have_text("成功", timeout=RUN_TIMEOUT_MS)
    expect(row.locator(".run-count")).to_have_text("3 / 3")
    row.get_by_role("button", name="メッセージ詳細").click()
    detail = page.locator("#run-message-dialog")
    expect(detail).to_contain_text("メール開封")
    expect(detail).to_contain_text("連携されたデータ: ")
    expect(detail).to_contain_text("タスクID:")
    detail.get_by_role("button", name="閉じる").click()
    expect(detail).to_be_hidden()
    records = kintone_records(kintone_sandbox, SUBDOMAIN, seeded["reaction"][0])
    assert sorted(r["RH01ActionType"]["value"] for r in records) == ["クリック", "開封", "開封"]
    assert {r["company"]["value"] for r in records} == {"株式会社サンプル0", "株式会社サンプル1"}

    # A late event (behind the watermark) is imported by the next 差分 run, nothing twice.
    post_events(haihai_sandbox, HAIHAI_KEY, [event("open", "user4@example.jp", _today(45))])
    page.reload()
    reaction = page.locator("#process-reaction")
    expect(reaction.locator(".event-watermark").first).to_contain_text("まで連携済")
    reaction.get_by_role("button", name="実行する").click()
    expect(_last_run(page, "顧客反応履歴情報取込連携").locator(".run-count")).to_have_text(
        "1 / 1", timeout=RUN_TIMEOUT_MS
    )

    # --- 実行: 全件 -----------------------------------------------------------------------------
    page.reload()
    reaction = page.locator("#process-reaction")
    reaction.locator("label[for='process-reaction-mode-full']").click()
    expect(reaction.get_by_text("処理対象の日付を指定してください")).to_be_visible()
    today = dt.datetime.now(TOKYO).date()
    reaction.get_by_label("開始日").fill((today - dt.timedelta(days=7)).isoformat())
    reaction.get_by_label("終了日").fill(today.isoformat())
    page.locator("#process-reaction").screenshot(path=str(SHOTS / "run-full.png"))
    reaction.get_by_role("button", name="実行する").click()
    expect(reaction.locator(".run-start-result")).to_have_text(
        "日時(開始、終了)の期間は7日以内にて指定してください。"
    )
    reaction.get_by_label("開始日").fill((today - dt.timedelta(days=6)).isoformat())
    reaction.get_by_role("button", name="実行する").click()
    expect(reaction.locator(".run-started")).to_be_visible()
    expect(_last_run(page, "顧客反応履歴情報取込連携").locator(".run-status-label")).to_have_text(
        "成功", timeout=RUN_TIMEOUT_MS
    )
    expect(_last_run(page, "顧客反応履歴情報取込連携").locator(".run-count")).to_have_text("0 / 0")
    assert len(kintone_records(kintone_sandbox, SUBDOMAIN, seeded["reaction"][0])) == 4

    # --- Bridge ---------------------------------------------------------------------------------
    bridge = page.locator("#process-bridge")
    expect(bridge.locator("select[name='forms']")).to_have_values(["1", "2"])
    bridge.get_by_role("button", name="実行する").click()
    expect(_last_run(page, "Bridgeフォーム連携").locator(".run-count")).to_have_text(
        "2 / 2", timeout=RUN_TIMEOUT_MS
    )
    page.reload()
    expect(page.locator("#process-bridge .event-watermark")).to_have_text(
        [
            re.compile(r"^お問い合わせフォーム：.*まで連携済$"),
            re.compile(r"^資料ダウンロードフォーム：.*まで連携済$"),
        ]
    )
    page.screenshot(path=str(SHOTS / "run-page.png"), full_page=True)
    answers = kintone_records(kintone_sandbox, SUBDOMAIN, seeded["bridge"][0])
    assert sorted(r["RH01FormName"]["value"] for r in answers) == [
        "お問い合わせフォーム",
        "資料ダウンロードフォーム",
    ]
