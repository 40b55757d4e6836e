"""In Chromium: configure Steps 1–4 of a new connector against the sandboxes, save, then re-sync
after a kintone field was deleted and read the 「kintone項目の同期 結果詳細」 dialog."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.support.settings_env import (
    HAIHAI_LOGIN,
    HAIHAI_TOKEN,
    KINTONE_TOKEN,
    SUBDOMAIN,
    seed_sandboxes,
)

pytestmark = pytest.mark.e2e

DELETED_REASON = "kintoneから項目が削除されているため、コネクタ設定から削除されました。"
HEADLINE = "前回の同期タイミング以降に、kintone項目が変更されています。再度設定を確認してください。"


@pytest.fixture
def live_portal_env(kintone_sandbox):
    """Point the portal's kintone base URL at the sandbox (per subdomain path)."""
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def sandbox_accounts(kintone_sandbox, haihai_sandbox):
    """The customer app and the 配配メール account the user will type in."""
    app_id, url = seed_sandboxes(kintone_sandbox, haihai_sandbox)
    return {"app_id": app_id, "haihai_url": url, "kintone_url": kintone_sandbox}


def test_configure_steps_1_to_4_then_resync_after_a_deleted_field(signed_in_page, sandbox_accounts):
    page = signed_in_page.page
    base = signed_in_page.portal.url

    # An empty connector from the list, then its 連携設定.
    page.get_by_role("button", name="新しい連携を追加").click()
    page.get_by_label("連携設定名").fill("顧客リスト連携")
    page.locator("#connector-add-submit").click()  # opens the new connector's 連携設定
    expect(page).to_have_url(re.compile(re.escape(base) + r"/connectors/\w+/settings$"))
    expect(page.get_by_role("heading", name="Step1. 配配メールコネクタ基本設定")).to_be_visible()
    expect(page.get_by_label("連携設定名")).to_have_value("顧客リスト連携")

    # Step1: the plugin token is issued and shown read-only with a copy button.
    page.get_by_role("button", name="発行").click()
    token = page.locator("#plugin-token-value")
    expect(token).to_have_attribute("readonly", "")
    assert len(token.input_value()) > 40
    expect(page.get_by_role("button", name="コピー")).to_be_visible()

    # Step2: a wrong URL is refused in place; the right one syncs.
    page.get_by_label("配配メールURL").fill("https://example.com/")
    page.get_by_label("ログインID").fill(HAIHAI_LOGIN)
    page.get_by_label("APIトークン", exact=True).fill(HAIHAI_TOKEN)
    page.get_by_label("配配メールから同期した内容から設定する").check()
    page.get_by_role("button", name="配配メール設定の同期").click()
    expect(page.locator('[data-error-for="haihai_url"]')).to_have_text(
        "正しい配配メールURLではありません。https://xxxx.hm-f.jp/mXXXXX/の形式で入力してください。"
    )
    page.get_by_label("配配メールURL").fill(sandbox_accounts["haihai_url"])
    page.get_by_role("button", name="配配メール設定の同期").click()
    expect(page.locator("#haihai-sync-done")).to_contain_text("項目 5件")
    expect(page.locator("#haihai-synced-at")).not_to_contain_text("未同期")

    # Step3: the app's fields.
    page.locator("#section-step3").get_by_label("kintoneサブドメイン名").fill(SUBDOMAIN)
    page.locator("#section-step3").get_by_label("kintone アプリID").fill(sandbox_accounts["app_id"])
    page.locator("#section-step3").get_by_label("kintone APIトークン").fill(KINTONE_TOKEN)
    page.get_by_role("button", name="kintone項目の同期").click()
    expect(page.locator("#kintone-app-summary")).to_contain_text("アプリ名: 顧客リスト")
    expect(page.locator("#kintone-permission-error")).to_have_count(0)

    # Step4: the dialog — the email field first, then two more; × removes one again.
    page.locator("#mapping-open").click()
    dialog = page.get_by_role("dialog", name="連携項目の設定")
    expect(dialog).to_be_visible()
    choices = dialog.locator("#mapping-new-field")
    expect(choices.locator("option")).to_have_count(6)  # (設定する項目) + 5 text/link fields
    choices.select_option("email")
    dialog.get_by_role("button", name="+ 追加").click()
    expect(dialog.locator(".mapping-row")).to_have_count(1)
    expect(dialog.locator(".mapping-row").first).to_contain_text("文字列 (1行)")
    for count, code in enumerate(("name", "company", "notes"), start=2):
        dialog.locator("#mapping-new-field").select_option(code)
        dialog.get_by_role("button", name="+ 追加").click()
        expect(dialog.locator(".mapping-row")).to_have_count(count)
    dialog.get_by_role("button", name="備考を削除").click()
    expect(dialog.locator(".mapping-row")).to_have_count(3)
    expect(dialog.locator('select[name="mapping-2-haihai_id"]')).to_have_value("I11")
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()
    summary = page.locator("#mapping-summary")
    expect(summary).to_contain_text("会社名")
    expect(summary.locator("tbody tr")).to_have_count(3)

    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    page.reload()
    expect(page.locator("#mapping-summary tbody tr")).to_have_count(3)
    expect(page.locator("#section-step3").get_by_label("kintone APIトークン")).to_have_value(
        "••••••••"
    )
    expect(page.locator("#plugin-token-state")).to_contain_text("設定済み")

    # The kintone admin deletes 会社名; re-sync removes its mapping and explains why.
    response = requests.post(
        f"{sandbox_accounts['kintone_url']}/_sandbox/fields",
        json={"subdomain": SUBDOMAIN, "app": sandbox_accounts["app_id"], "delete": ["company"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    page.get_by_role("button", name="kintone項目の同期").click()
    expect(page.locator("#kintone-sync-drift")).to_contain_text(HEADLINE)
    # Step4 re-rendered itself from the stored settings: the row is gone.
    expect(page.locator("#mapping-summary tbody tr")).to_have_count(2)
    page.get_by_role("button", name="同期結果詳細").click()
    result = page.get_by_role("dialog", name="kintone項目の同期 結果詳細")
    expect(result).to_be_visible()
    expect(result).to_contain_text(HEADLINE)
    row = result.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(["会社名", "会社名", DELETED_REASON])
    result.get_by_role("button", name="閉じる").click()
    expect(result).to_be_hidden()
