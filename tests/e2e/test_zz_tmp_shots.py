import pytest
from playwright.sync_api import expect

@pytest.mark.e2e
def test_shots(live_portal, browser_page, portal_sign_in):
    page = browser_page
    pw = live_portal.create_account("HC0001")
    page.goto(live_portal.url + "/login")
    page.screenshot(path="/tmp/shot_login.png")
    portal_sign_in(page, "HC0001", pw)
    page.get_by_label("新しいパスワード", exact=True).fill("weak")
    page.get_by_role("button", name="設定", exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path="/tmp/shot_dialog.png")
    page.get_by_role("button", name="閉じる").click()
    page.get_by_label("新しいパスワード", exact=True).fill("Good#Pass2024")
    page.get_by_label("再入力(確認)", exact=True).fill("Good#Pass2024")
    page.get_by_role("button", name="設定", exact=True).click()
    page.get_by_role("button", name="新しい連携を追加").click()
    page.get_by_label("連携設定名").fill("配配メール-kintone連携01")
    page.get_by_role("button", name="追加", exact=True).click()
    expect(page.locator("#connector-list")).to_be_visible()
    page.locator("#account-menu").click()
    page.screenshot(path="/tmp/shot_list.png")
