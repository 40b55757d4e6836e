"""In Chromium: a 配配メール sync saves a consistent whole and the page agrees after a reload; a
typed token survives a failed sync without being sent back; leaving with unsaved edits asks;
unsaved edits survive the sync buttons; Step7 refuses a field another process uses; schedule
overlaps are shown at their editors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.demo_fixtures import create_haihai_account, create_kintone_app
from tests.support.settings_env import (
    HAIHAI_KEY,
    HAIHAI_LOGIN,
    HAIHAI_TOKEN,
    KINTONE_TOKEN,
    SUBDOMAIN,
    customer_fields,
    haihai_item_specs,
    seed_sandboxes,
)

pytestmark = pytest.mark.e2e

UNSAVED = "保存されていない変更があります。このページを離れますか？"


@pytest.fixture
def live_portal_env(kintone_sandbox):
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def haihai_url(kintone_sandbox, haihai_sandbox) -> str:
    create_kintone_app(
        kintone_sandbox, subdomain=SUBDOMAIN, fields=customer_fields(), token=KINTONE_TOKEN
    )
    return create_haihai_account(
        haihai_sandbox,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=haihai_item_specs(),
        groups=[{"gid": "1", "name": "メールマガジン"}],
    )


def _new_connector(page, base: str) -> str:
    page.get_by_role("button", name="新しい連携を追加").click()
    page.get_by_label("連携設定名").fill("顧客リスト連携")
    page.locator("#connector-add-submit").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/connectors/\w+/settings$"))
    return page.url


def test_sync_saves_a_consistent_whole_and_the_page_agrees_after_a_reload(
    signed_in_page, haihai_url
):
    page, base = signed_in_page.page, signed_in_page.portal.url
    settings_url = _new_connector(page, base)

    page.get_by_label("配配メールURL").fill(haihai_url)
    page.get_by_label("ログインID").fill(HAIHAI_LOGIN)
    token = page.locator("#field-haihai_api_token")
    # A wrong token first: the sync fails, and what was typed is still in the field (kept by the
    # browser; the answer never contains it).
    token.fill("typed-but-wrong-token")
    page.get_by_label("手動で設定する").check()
    page.get_by_role("button", name="配配メール設定の同期").click()
    expect(page.locator("#haihai-sync-error")).to_be_visible()
    expect(token).to_have_value("typed-but-wrong-token")

    token.fill(HAIHAI_TOKEN)
    page.get_by_role("button", name="配配メール設定の同期").click()
    done = page.locator("#haihai-sync-done")
    expect(done).to_contain_text(
        "連携設定方法「配配メールから同期した内容から設定する」を保存しました。"
    )
    expect(page.get_by_label("配配メールから同期した内容から設定する")).to_be_checked()

    # Nothing typed since the sync: leaving asks nothing, and a reload shows the same state.
    page.goto(settings_url)
    expect(page.get_by_label("配配メールから同期した内容から設定する")).to_be_checked()
    expect(page.locator("#haihai-synced-at")).not_to_contain_text("未同期")
    expect(page.get_by_label("配配メールURL")).to_have_value(haihai_url)
    expect(token).to_have_value("••••••••")


def test_leaving_with_unsaved_edits_asks_first(signed_in_page):
    page, base = signed_in_page.page, signed_in_page.portal.url
    settings_url = _new_connector(page, base)
    asked: list[str] = []
    replies: list[bool] = []  # what the next questions are answered, in order

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if replies.pop(0) else dialog.dismiss()

    page.on("dialog", answer)

    # Untouched page: the breadcrumb leaves without a question.
    page.get_by_role("link", name="コネクター一覧").first.click()
    expect(page).to_have_url(f"{base}/")
    assert asked == []

    page.goto(settings_url)
    page.get_by_label("連携設定名").fill("名前を変えた")
    replies.append(False)
    page.locator("nav[aria-label='パンくずリスト']").get_by_role(
        "link", name="コネクター一覧"
    ).click()
    expect(page).to_have_url(settings_url)  # stayed
    assert asked == [UNSAVED]
    expect(page.get_by_label("連携設定名")).to_have_value("名前を変えた")

    # A refused 「保存」 stores nothing: the edits are still unsaved and leaving still asks.
    page.get_by_role("button", name="保存").click()
    expect(page.locator("[data-error-for]").first).to_be_visible()
    replies.append(True)
    page.locator("nav[aria-label='パンくずリスト']").get_by_role(
        "link", name="コネクター一覧"
    ).click()
    expect(page).to_have_url(f"{base}/")
    assert asked == [UNSAVED, UNSAVED]


@pytest.fixture
def sandbox_app(kintone_sandbox, haihai_sandbox) -> dict[str, str]:
    app_id, haihai = seed_sandboxes(kintone_sandbox, haihai_sandbox)
    return {"app_id": str(app_id), "haihai_url": haihai}


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _synced_connector(page, base: str, sandbox_app: dict[str, str]) -> None:
    """A new connector with both sync buttons pressed (nothing saved yet)."""
    _new_connector(page, base)
    page.get_by_label("配配メールURL").fill(sandbox_app["haihai_url"])
    page.get_by_label("ログインID").fill(HAIHAI_LOGIN)
    page.locator("#field-haihai_api_token").fill(HAIHAI_TOKEN)
    page.get_by_role("button", name="配配メール設定の同期").click()
    expect(page.locator("#haihai-sync-done")).to_be_visible()
    step3 = page.locator("#section-step3")
    step3.get_by_label("kintoneサブドメイン名").fill(SUBDOMAIN)
    step3.get_by_label("kintone アプリID").fill(sandbox_app["app_id"])
    step3.get_by_label("kintone APIトークン").fill(KINTONE_TOKEN)
    page.get_by_role("button", name="kintone項目の同期").click()
    expect(page.locator("#kintone-app-summary")).to_contain_text("アプリ名")
    _settled(page)


def test_unsaved_edits_of_steps_4_5_7_survive_both_sync_buttons(signed_in_page, sandbox_app):
    page, base = signed_in_page.page, signed_in_page.portal.url
    _synced_connector(page, base, sandbox_app)

    # Unsaved edits: Step4 rows from the dialog, Step5's 連携先, Step7's timing and field.
    page.locator("#mapping-open").click()
    dialog = page.get_by_role("dialog", name="連携項目の設定")
    for count, code in enumerate(("email", "name"), start=1):
        dialog.locator("#mapping-new-field").select_option(code)
        dialog.get_by_role("button", name="+ 追加").click()
        expect(dialog.locator(".mapping-row")).to_have_count(count)
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()
    page.locator("#customer-1").get_by_label("配信グループ指定").check()
    _settled(page)
    page.locator("#customer-1 select[name='customer-1-target_id']").select_option("1")
    page.locator("#view_url-timing-manual").check()
    _settled(page)
    page.locator("#field-view_url_target").select_option("notes")

    def edits_are_on_the_page() -> None:
        expect(page.locator("#mapping-summary tbody tr")).to_have_count(2)
        expect(page.locator("#customer-1").get_by_label("配信グループ指定")).to_be_checked()
        expect(page.locator("#customer-1 select[name='customer-1-target_id']")).to_have_value("1")
        expect(page.locator("#view_url-timing-manual")).to_be_checked()
        expect(page.locator("#field-view_url_target")).to_have_value("notes")

    for button, done, last in (
        ("kintone項目の同期", "#kintone-app-summary", "step7"),
        ("配配メール設定の同期", "#haihai-sync-done", "step5"),
    ):
        with page.expect_response(re.compile(rf"/settings/sections/{last}\?")):
            page.get_by_role("button", name=button).click()
        expect(page.locator(done)).to_be_visible()
        _settled(page)
        edits_are_on_the_page()

    # Still unsaved: leaving asks; 「保存」 then stores exactly what the page shows.
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("nav[aria-label='パンくずリスト']").get_by_role(
        "link", name="コネクター一覧"
    ).click()
    assert asked == [UNSAVED]
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    page.reload()
    edits_are_on_the_page()


def _daily_at(page, prefix: str, hour: int) -> None:
    page.locator(f"#{prefix}-timing-schedule").check()
    _settled(page)
    page.locator(f"#{prefix}-interval").select_option("daily")
    _settled(page)
    page.locator(f"label[for='{prefix}-hours-{hour}']").click()


def _map_the_email_field(page) -> None:
    """Step4's dialog: add the mail-address row (the only mapping these tests need)."""
    page.locator("#mapping-open").click()
    dialog = page.get_by_role("dialog", name="連携項目の設定")
    dialog.locator("#mapping-new-field").select_option("email")
    dialog.get_by_role("button", name="+ 追加").click()
    dialog.get_by_role("button", name="閉じる", exact=True).click()
    expect(dialog).to_be_hidden()


def test_a_schedule_overlap_is_shown_at_both_editors_and_the_first_is_scrolled_to(
    signed_in_page, sandbox_app
):
    page, base = signed_in_page.page, signed_in_page.portal.url
    _synced_connector(page, base, sandbox_app)
    _map_the_email_field(page)
    _daily_at(page, "customer-1", 10)
    _daily_at(page, "view_url", 10)
    page.locator("#field-view_url_target").select_option("notes")

    page.get_by_role("button", name="保存", exact=True).click()
    overlap = "「顧客情報連携 1」と「顧客閲覧URL連携」のスケジュール設定が重複しています"
    expect(page.locator("#settings-errors")).to_contain_text(overlap)
    first = page.locator("#customer-1-schedule [data-error-for='customer-1-schedule']")
    expect(first).to_contain_text(overlap)
    expect(page.locator("#view_url-schedule [data-error-for='view_url-schedule']")).to_contain_text(
        overlap
    )
    # The page (thousands of pixels) was scrolled to the first editor concerned.
    expect(first).to_be_in_viewport()
    expect(page.locator("#settings-errors")).not_to_be_in_viewport()


def test_step7_refuses_the_mail_address_field_as_its_target(signed_in_page, sandbox_app):
    page, base = signed_in_page.page, signed_in_page.portal.url
    _synced_connector(page, base, sandbox_app)
    _map_the_email_field(page)
    page.locator("#view_url-timing-manual").check()
    _settled(page)
    page.locator("#field-view_url_target").select_option("email")

    page.get_by_role("button", name="保存", exact=True).click()
    error = page.locator('[data-error-for="view_url_target"]')
    expect(error).to_contain_text(
        "「メールアドレス」はメールアドレスの連携に使用している項目です。"
    )
    expect(page.locator("#settings-notice")).to_have_count(0)

    page.locator("#field-view_url_target").select_option("notes")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#settings-notice")).to_have_text("保存しました。")
    page.reload()
    expect(page.locator("#field-view_url_target")).to_have_value("notes")
