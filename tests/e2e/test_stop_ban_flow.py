"""In Chromium: Step6 set up in 「連携項目の設定」 (両方、別々の項目, then 両方、同じ項目) → 保存 →
実行 → 成功, and kintone holds the results of the two examples of manual 付録2.1."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from portal.connector_types.haihai_kintone.stop_ban.demo import (
    EXAMPLE_EMAILS,
    example_customers,
    example_fields,
)
from portal.demo_fixtures import create_haihai_account, create_kintone_app

pytestmark = pytest.mark.e2e

SUBDOMAIN = "acme"
KINTONE_TOKEN = "E2eStopBanAppToken0000000000000000000001"
HAIHAI_KEY = "m35791"
HAIHAI_LOGIN = "e2e-admin"
HAIHAI_TOKEN = "e2e0haihai0token0000000000000003"
RUN_TIMEOUT_MS = 90_000
DAILY_NOTE = (
    "1日に実行可能な連携回数は最大10回までとなります。"
    "超過した場合は、連携エラーとなりますのでご注意ください。"
)


@pytest.fixture
def live_portal_env(kintone_sandbox) -> dict[str, str]:
    """Point the portal's processes at the kintone sandbox."""
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


def _seed_connector(live_portal, kintone_url: str, haihai_url: str, owner: str) -> tuple[str, str]:
    """Steps 1–4 through the portal's own code; the app has the fields of 付録2.1's examples."""
    # The examples' fields under codes of their own: the demo's Step6 is not preset here.
    fields = {
        "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス", "unique": True},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "view_url": {"type": "LINK", "label": "顧客ページ", "protocol": "WEB"},  # Step7 (demo)
        **{f"e2e_{code}": prop for code, prop in example_fields().items()},
    }
    records = [{"email": {"value": e}, "name": {"value": e[:3]}} for e in EXAMPLE_EMAILS]
    app_id, token = create_kintone_app(
        kintone_url, subdomain=SUBDOMAIN, fields=fields, token=KINTONE_TOKEN, records=records
    )
    create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=[{"item_id": "I10", "label": "氏名", "type": "text"}],
        groups=[{"gid": "1", "name": "メールマガジン"}, {"gid": "2", "name": "セミナー案内"}],
        customers=example_customers(),
    )
    connector_id = live_portal.configure_demo_connector(
        owner,
        haihai_url,
        kintone={"subdomain": SUBDOMAIN, "app_id": app_id, "api_token": token},
        haihai={"account_key": HAIHAI_KEY, "login_id": HAIHAI_LOGIN, "api_token": HAIHAI_TOKEN},
    )
    return connector_id, app_id


def _settled(page) -> None:
    """Wait until htmx finished swapping and wiring up new content (a click before that is lost)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _kintone_values(kintone_url: str, app_id: str, *codes: str) -> dict[str, tuple]:
    with requests.get(
        f"{kintone_url}/_sandbox/records",
        params={"subdomain": SUBDOMAIN, "app": app_id},
        timeout=10,
    ) as response:
        response.raise_for_status()
        records = response.json()["records"]
    return {r["email"]["value"]: tuple(r[c]["value"] for c in codes) for r in records}


def _open_dialog(page):
    page.locator("#section-step6").get_by_role("button", name="連携項目の設定").click()
    dialog = page.locator("#stop_ban-dialog")
    expect(dialog.get_by_role("heading", name="連携項目の設定")).to_be_visible()
    _settled(page)
    return dialog


def _run_and_wait(page, portal, connector_id: str, count: str):
    page.goto(f"{portal.url}/connectors/{connector_id}/run")
    row = page.locator("#process-stop_ban")
    expect(row.locator(".process-name")).to_have_text("配信停止 / 禁止顧客一覧連携")
    row.get_by_role("button", name="実行する").click()
    expect(row.locator(".run-started")).to_be_visible()
    run_id = row.locator(".run-started").get_attribute("data-run-id")
    log_row = page.locator(f"#run-{run_id}")
    expect(log_row.locator(".run-status-label")).to_have_text("成功", timeout=RUN_TIMEOUT_MS)
    expect(log_row.locator(".run-count")).to_have_text(count)
    return log_row


def test_step6_dialog_save_and_run_reproduce_the_manuals_examples(
    signed_in_page, kintone_sandbox, haihai_sandbox, tmp_path
):
    portal, page = signed_in_page.portal, signed_in_page.page
    connector_id, app_id = _seed_connector(
        portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id
    )
    portal.spawn("jobs", "worker")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{portal.url}/connectors/{connector_id}/settings")
    section = page.locator("#section-step6")
    expect(section.get_by_role("heading", name="Step6. 配信停止/禁止顧客一覧連携")).to_be_visible()
    expect(section.locator("#step6-daily-note")).to_have_text(DAILY_NOTE)
    expect(section.get_by_label("連携しない")).to_be_checked()
    expect(section.get_by_label("両方、別々の項目に連携する")).to_be_checked()
    section.get_by_label("手動実行").check()
    _settled(page)

    # 「閉じる」 without choosing anything: each rule asks for its field, the dialog stays.
    dialog = _open_dialog(page)
    expect(dialog.locator("tr.stop-ban-rule-row")).to_have_count(2)
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog.locator("[data-error-for='stop_ban-stop-field']")).to_have_text(
        "kintone項目を選択してください。"
    )
    expect(dialog.locator("[data-error-for='stop_ban-ban-field']")).to_be_visible()
    _settled(page)

    # 配信停止連携: the field, its value, and the 「ではなくなった」 value.
    dialog.get_by_label("配信停止連携のkintone連携先項目名").select_option("e2e_stop_flag")
    stop_value = dialog.get_by_label("配信停止連携の設定する値")
    expect(stop_value).to_be_visible()
    _settled(page)
    stop_value.select_option("配信停止")
    dialog.get_by_label("配信停止ではなくなった場合の連携を行う", exact=True).check()
    dialog.get_by_label("配信停止ではなくなった場合の連携を行うの設定する値").select_option(
        "配信停止ではない"
    )
    # 配信禁止連携: choosing its field redraws the dialog and keeps what was chosen above.
    dialog.get_by_label("配信禁止連携のkintone連携先項目名").select_option("e2e_ban_flag")
    ban_value = dialog.get_by_label("配信禁止連携の設定する値")
    expect(ban_value).to_be_visible()
    _settled(page)
    expect(dialog.get_by_label("配信停止連携の設定する値")).to_have_value("配信停止")
    ban_value.select_option("配信禁止")
    dialog.get_by_label("配信禁止ではなくなった場合の連携を行う", exact=True).check()
    dialog.get_by_label("配信禁止ではなくなった場合の連携を行うの設定する値").select_option(
        "配信禁止ではない"
    )
    dialog.screenshot(path=str(tmp_path / "step6-dialog.png"))
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()

    summary = page.locator("#stop-ban-summary")
    expect(summary.locator("tr.stop-ban-summary-rule").first).to_contain_text("配信停止連携")
    expect(summary).to_contain_text("配信禁止ではない")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    expect(page.locator("#section-step6 #stop-ban-summary")).to_contain_text("配信停止ではない")
    page.locator("#section-step6").screenshot(path=str(tmp_path / "step6-section.png"))

    # 実行: 4 / 4, and kintone shows the first example's result table.
    log_row = _run_and_wait(page, portal, connector_id, "4 / 4")
    log_row.get_by_role("button", name="メッセージ詳細").click()
    detail = page.locator("#run-message-dialog")
    expect(detail.locator(".run-detail-text")).to_contain_text(
        "連携対象: 4件（更新: 4件、変更なし: 0件）"
    )
    expect(detail.locator(".run-detail-text")).to_contain_text(
        "・配信停止: 「配信停止」（配信停止） 2件"
    )
    detail.get_by_role("button", name="閉じる").click()
    assert _kintone_values(kintone_sandbox, app_id, "e2e_stop_flag", "e2e_ban_flag") == {
        "aaa@example.com": ("配信停止", "配信禁止"),
        "bbb@example.com": ("配信停止", "配信禁止ではない"),
        "ccc@example.com": ("配信停止ではない", "配信禁止"),
        "ddd@example.com": ("配信停止ではない", "配信禁止ではない"),
    }

    # 両方、同じ項目に連携する: one field, 「※同じ項目へ連携」 and the precedence note.
    page.goto(f"{portal.url}/connectors/{connector_id}/settings")
    page.locator("#section-step6").get_by_label("両方、同じ項目に連携する").check()
    expect(page.locator("#step6-rules")).to_contain_text("※同じ項目へ連携")
    _settled(page)
    dialog = _open_dialog(page)
    expect(dialog).to_contain_text("※同じ項目へ連携")
    expect(dialog).to_contain_text(
        "※配信停止かつ配信禁止である場合、配信禁止連携に設定されている値が連携されます。"
    )
    dialog.get_by_label("配信停止連携のkintone連携先項目名").select_option("e2e_stop_ban_flag")
    expect(dialog.get_by_label("配信禁止連携の設定する値")).to_be_visible()
    _settled(page)
    dialog.get_by_label("配信停止連携の設定する値").select_option("配信停止")
    dialog.get_by_label("配信禁止連携の設定する値").select_option("配信禁止")
    cleared = "配信停止/配信禁止ではなくなった場合の連携を行う"
    dialog.get_by_label(cleared, exact=True).check()
    dialog.get_by_label(f"{cleared}の設定する値").select_option("配信停止、配信禁止ではない")
    dialog.screenshot(path=str(tmp_path / "step6-dialog-same.png"))
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")

    _run_and_wait(page, portal, connector_id, "4 / 4")
    assert _kintone_values(kintone_sandbox, app_id, "e2e_stop_ban_flag") == {
        "aaa@example.com": ("配信禁止",),
        "bbb@example.com": ("配信停止",),
        "ccc@example.com": ("配信禁止",),
        "ddd@example.com": ("配信停止、配信禁止ではない",),
    }
    assert re.fullmatch(r"\d+", app_id)
