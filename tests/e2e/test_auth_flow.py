"""In Chromium: account by CLI → login → forced password change → コネクター一覧 → add → logout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

E2E_PASSWORD = "Chosen#Pass2024"
POLICY_SENTENCE = (
    "パスワードが要件を満たしていません。パスワードは8文字以上、かつ英小文字・英大文字・数字・"
    "記号(!@#$%^&*)のいずれかの文字を使用してください。"
)


def test_first_sign_in_change_password_add_connector_and_logout(
    live_portal, browser_page, portal_sign_in
):
    page = browser_page
    base = live_portal.url
    initial = live_portal.create_account("HC0001", "ops@example.co.jp")
    assert "HC0001" in live_portal.cli("accounts", "list")

    # The portal's address leads to the login form.
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login")
    expect(page.get_by_role("heading", name="ログイン")).to_be_visible()

    # A wrong password is refused with the generic message.
    portal_sign_in(page, "HC0001", "Wrong#Pass1")
    expect(page.get_by_role("alert")).to_have_text(
        "配配メールコネクタ ID またはパスワードが正しくありません。"
    )

    # The initial password leads to the forced change.
    portal_sign_in(page, "HC0001", initial)
    expect(page).to_have_url(f"{base}/password")
    expect(page.get_by_role("heading", name="パスワード変更")).to_be_visible()
    new_password = page.get_by_label("新しいパスワード", exact=True)
    confirmation = page.get_by_label("再入力(確認)", exact=True)

    # Live length counter and the eye toggle.
    new_password.fill("weakpass")
    counter = page.locator('[data-length-for="#new_password"]')
    expect(counter).to_have_text("8")
    expect(new_password).to_have_attribute("type", "password")
    page.get_by_role("button", name="新しいパスワードを表示").click()
    expect(new_password).to_have_attribute("type", "text")
    page.get_by_role("button", name="新しいパスワードを表示").click()
    expect(new_password).to_have_attribute("type", "password")
    page.get_by_role("button", name="新しいパスワードを消去").click()
    expect(new_password).to_have_value("")
    expect(counter).to_have_text("0")

    # A weak password opens the エラー詳細 dialog with the manual's sentence.
    new_password.fill("weakpass")
    confirmation.fill("weakpass")
    page.get_by_role("button", name="設定", exact=True).click()
    dialog = page.get_by_role("dialog", name="エラー詳細")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(POLICY_SENTENCE)
    expect(page.get_by_text("パスワードを見直してください。")).to_be_visible()
    dialog.get_by_role("button", name="閉じる").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(f"{base}/password")

    # Mismatching inputs have their own message.
    new_password = page.get_by_label("新しいパスワード", exact=True)
    new_password.fill(E2E_PASSWORD)
    page.get_by_label("再入力(確認)", exact=True).fill(E2E_PASSWORD + "x")
    page.get_by_role("button", name="設定", exact=True).click()
    dialog = page.get_by_role("dialog", name="エラー詳細")
    expect(dialog).to_contain_text("「新しいパスワード」と「再入力(確認)」が一致しません。")
    dialog.get_by_role("button", name="閉じる").click()
    expect(dialog).to_be_hidden()

    # A strong password is accepted: on to the コネクター一覧.
    page.get_by_label("新しいパスワード", exact=True).fill(E2E_PASSWORD)
    page.get_by_label("再入力(確認)", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="設定", exact=True).click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_role("heading", name="コネクター一覧")).to_be_visible()
    expect(page.locator("#connector-list-empty")).to_contain_text("連携はまだありません。")

    # Adding a connector: an empty name is refused in place; a good one opens its 連携設定
    # with a success message, and the list shows it.
    page.get_by_role("button", name="新しい連携を追加").click()
    name = page.get_by_label("連携設定名")
    expect(name).to_be_visible()
    expect(page.get_by_label("連携の種類")).to_have_value("haihai_kintone")
    page.locator("#connector-add-submit").click()
    expect(page.get_by_text("連携設定名を入力してください。")).to_be_visible()
    expect(page).to_have_url(f"{base}/")
    page.get_by_label("連携設定名").fill("配配メール-kintone連携01")
    page.locator("#connector-add-submit").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/connectors/[0-9A-Z]{26}/settings$"))
    expect(page.locator("#main > .alert-success")).to_have_text(
        "「配配メール-kintone連携01」を追加しました。続けて連携設定を行ってください。"
    )
    expect(page.get_by_role("heading", name="Step1. 配配メールコネクタ基本設定")).to_be_visible()
    expect(page.locator("#field-name")).to_have_value("配配メール-kintone連携01")
    page.get_by_role("link", name="コネクター一覧").click()
    expect(page.get_by_text("を追加しました。")).to_have_count(0)  # said once only
    row = page.locator("#connector-list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".connector-kind")).to_have_text("配配メール-kintone 連携")
    expect(row.locator(".connector-name")).to_have_text("配配メール-kintone連携01")

    # LOGOUT from the menu at the top right.
    page.locator("#account-menu").click()
    page.get_by_role("button", name="LOGOUT").click()
    expect(page.get_by_text("ログアウトしました")).to_be_visible()
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login")

    # The new password works from now on, without another change.
    portal_sign_in(page, "HC0001", E2E_PASSWORD)
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("#connector-list .connector-name")).to_have_text("配配メール-kintone連携01")


def test_signed_in_page_fixture_reaches_the_list(signed_in_page):
    page = signed_in_page.page
    expect(page.get_by_role("heading", name="コネクター一覧")).to_be_visible()
    expect(page.locator("#account-menu")).to_have_text(signed_in_page.connector_id)
    assert re.search(r"HC0001\s+\S+\s+active", signed_in_page.portal.cli("accounts", "list"))
