"""In Chromium: Step5 with two conditions built in 「連携条件の設定」 → 保存 → 実行 → 成功, and the
配配メール sandbox holds exactly the kintone records that match, in the chosen delivery group."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from portal.demo_fixtures import choice_field_options, create_haihai_account, create_kintone_app

pytestmark = pytest.mark.e2e

SUBDOMAIN = "acme"
KINTONE_TOKEN = "E2eCustomerAppToken000000000000000000001"
HAIHAI_KEY = "m24680"
HAIHAI_LOGIN = "e2e-admin"
HAIHAI_TOKEN = "e2e0haihai0token0000000000000001"
RUN_TIMEOUT_MS = 90_000

PEOPLE = [
    # (email, name, industry, employees)
    ("sato@example.co.jp", "佐藤 健一", "製造業", 120),
    ("suzuki@example.co.jp", "鈴木 美咲", "製造業", 30),
    ("takahashi@example.co.jp", "高橋 翔太", "小売業", 500),
    ("tanaka@example.co.jp", "田中 由美", "製造業", 50),
    ("ito@example.co.jp", "伊藤 彩", "", 900),
    ("kato@example.co.jp", "加藤 誠", "製造業", 49),
]
# 業種 is 製造業 and 従業員数 ≥ 50.
EXPECTED = {"sato@example.co.jp", "tanaka@example.co.jp"}


def _fields() -> dict:
    return {
        "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス", "unique": True},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": choice_field_options(("製造業", "小売業")),
        },
        "employees": {"type": "NUMBER", "label": "従業員数"},
        "view_url": {"type": "LINK", "label": "顧客ページ", "protocol": "WEB"},
    }


def _records() -> list[dict]:
    return [
        {
            "email": {"value": email},
            "name": {"value": name},
            "industry": {"value": industry},
            "employees": {"value": str(employees)},
        }
        for email, name, industry, employees in PEOPLE
    ]


@pytest.fixture
def live_portal_env(kintone_sandbox) -> dict[str, str]:
    """Point the portal's processes at the kintone sandbox."""
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


def _seed_connector(live_portal, kintone_url: str, haihai_url: str, connector_owner: str) -> str:
    """Steps 1–4 through the portal's own code: both sides synced, email + 氏名 mapped."""
    app_id, token = create_kintone_app(
        kintone_url,
        subdomain=SUBDOMAIN,
        fields=_fields(),
        token=KINTONE_TOKEN,
        records=_records(),
    )
    create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=[{"item_id": "I10", "label": "氏名", "type": "text"}],
        groups=[{"gid": "1", "name": "メールマガジン"}, {"gid": "2", "name": "セミナー案内"}],
        plans=[{"spid": "1", "name": "資料請求フォロー"}],
    )
    return live_portal.configure_demo_connector(
        connector_owner,
        haihai_url,
        kintone={"subdomain": SUBDOMAIN, "app_id": app_id, "api_token": token},
        haihai={"account_key": HAIHAI_KEY, "login_id": HAIHAI_LOGIN, "api_token": HAIHAI_TOKEN},
    )


def _settled(page) -> None:
    """Wait until htmx finished swapping and wiring up new content (a click before that is lost)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _haihai_customers(haihai_url: str) -> list[dict]:
    with requests.get(
        f"{haihai_url}/_sandbox/customers", params={"account": HAIHAI_KEY}, timeout=10
    ) as response:
        response.raise_for_status()
        return response.json()["customers"]


def test_two_conditions_from_the_dialog_select_what_the_run_sends_to_haihai(
    signed_in_page, kintone_sandbox, haihai_sandbox
):
    portal = signed_in_page.portal
    page = signed_in_page.page
    connector_id = _seed_connector(
        portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id
    )
    portal.spawn("jobs", "worker")

    page.goto(f"{portal.url}/connectors/{connector_id}/settings")
    setting = page.locator("#customer-1")
    expect(setting.get_by_role("heading", name="顧客情報連携設定 1")).to_be_visible()
    expect(setting.get_by_label("手動実行")).to_be_checked()

    # 配信グループ指定 re-renders the block: the synced groups and 一括状態変更 appear.
    expect(setting.get_by_label("一括状態変更")).to_have_count(0)
    setting.get_by_label("配信グループ指定").check()
    group_select = page.locator("#customer-1 select[name='customer-1-target_id']")
    expect(group_select).to_be_visible()
    _settled(page)
    expect(page.locator("#customer-1").get_by_label("一括状態変更")).to_be_visible()
    group_select.select_option(label="メールマガジン（ID: 1）")

    # Step2's 連携設定方法 switches the ID between a typed input and the synced list.
    page.get_by_label("手動で設定する").check()
    typed = page.locator("#customer-1 input[name='customer-1-target_id']")
    expect(typed).to_have_value("1")
    _settled(page)
    page.get_by_label("配配メールから同期した内容から設定する").check()
    expect(group_select).to_have_value("1")
    _settled(page)

    # 「連携条件の設定」: 業種 in 製造業, 従業員数 ≥ 50.
    page.locator("#customer-1").get_by_role("button", name="連携条件の設定").click()
    dialog = page.locator("#conditions-dialog")
    expect(dialog.get_by_role("heading", name=re.compile("連携条件の設定"))).to_be_visible()
    _settled(page)
    dialog.get_by_label("条件を指定するkintone項目").select_option("industry")
    dialog.get_by_role("button", name="+ 追加").click()
    expect(dialog.locator("tr.condition-row")).to_have_count(1)
    _settled(page)
    dialog.get_by_label("業種の選択肢").select_option(["製造業"])
    dialog.get_by_label("条件を指定するkintone項目").select_option("employees")
    dialog.get_by_role("button", name="+ 追加").click()
    expect(dialog.locator("tr.condition-row")).to_have_count(2)
    _settled(page)
    # The selection made before the re-render is kept.
    expect(dialog.get_by_label("業種の選択肢")).to_have_values(["製造業"])
    dialog.get_by_label("従業員数の条件", exact=True).select_option("ge")
    dialog.get_by_label("従業員数の条件値").fill("50")
    expect(dialog.get_by_label("すべての条件を満たす")).to_be_checked()
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()

    summary = page.locator("#customer-1-conditions-area")
    expect(summary).to_contain_text("すべての条件を満たす")
    expect(summary).to_contain_text("業種が「製造業」のいずれか")
    expect(summary).to_contain_text("従業員数が50以上")

    # 「条件を確認」: the query and how many records match now.
    page.locator("#customer-1").get_by_role("button", name="条件を確認").click()
    check = page.locator("#customer-1-check-result")
    expect(check).to_contain_text("employees >= 50")
    expect(check.locator(".conditions-count")).to_have_text(str(len(EXPECTED)))

    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    expect(page.locator("#customer-1-conditions-area")).to_contain_text("従業員数が50以上")

    # 実行 → the 連携ログ row of 顧客情報連携 1 ends in 成功 with 2 / 2.
    page.goto(f"{portal.url}/connectors/{connector_id}/run")
    row = page.locator("#process-customer-1")
    expect(row.locator(".process-name")).to_have_text("顧客情報連携 1")
    row.get_by_role("button", name="実行する").click()
    expect(row.locator(".run-started")).to_be_visible()
    log_row = page.locator("tr.run-row").filter(has_text="顧客情報連携 1").first
    expect(log_row.locator(".run-status-label")).to_have_text("成功", timeout=RUN_TIMEOUT_MS)
    expect(log_row.locator(".run-count")).to_have_text(f"{len(EXPECTED)} / {len(EXPECTED)}")

    customers = _haihai_customers(haihai_sandbox)
    assert {c["email"] for c in customers} == EXPECTED
    names = {c["email"]: c["values"]["氏名"] for c in customers}
    assert names == {"sato@example.co.jp": "佐藤 健一", "tanaka@example.co.jp": "田中 由美"}
    for customer in customers:
        memberships = {(m["type"], str(m["id"])): m["state"] for m in customer["memberships"]}
        assert memberships == {("group", "1"): "ok"}, customer

    # Five conditions: the summary shows four and toggles 「もっと見る」 / 「簡易表示」.
    page.goto(f"{portal.url}/connectors/{connector_id}/settings")
    page.locator("#customer-1").get_by_role("button", name="連携条件の設定").click()
    dialog = page.locator("#conditions-dialog")
    expect(dialog.locator("tr.condition-row")).to_have_count(2)
    _settled(page)
    dialog.get_by_label("条件を指定するkintone項目").select_option("作成日時")
    dialog.get_by_role("button", name="+ 追加").click()
    expect(dialog.locator("tr.condition-row")).to_have_count(3)
    _settled(page)
    dialog.locator("select[name='cond-2-date_kind']").select_option("last_week")
    weekday = dialog.locator("select[name='cond-2-weekday']")
    expect(weekday).to_be_visible()  # the row was re-rendered for the chosen form
    _settled(page)
    weekday.select_option(label="月曜日")
    for count in (4, 5):
        dialog.get_by_label("条件を指定するkintone項目").select_option("name")
        dialog.get_by_role("button", name="+ 追加").click()
        expect(dialog.locator("tr.condition-row")).to_have_count(count)
        _settled(page)
        dialog.locator(f"input[name='cond-{count - 1}-value']").fill(f"名前{count}")
    dialog.get_by_label("いずれかの条件を満たす").check()
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()
    summary = page.locator("#customer-1-conditions-area")
    expect(summary).to_contain_text("いずれかの条件を満たす")
    expect(summary).to_contain_text("作成日時が先週の月曜日")
    fifth = summary.get_by_text("氏名が「名前5」と等しい")
    expect(fifth).to_be_hidden()
    summary.get_by_role("button", name="もっと見る").click()
    expect(fifth).to_be_visible()
    summary.get_by_role("button", name="簡易表示").click()
    expect(fifth).to_be_hidden()
    expect(summary.get_by_role("button", name="もっと見る")).to_be_visible()
