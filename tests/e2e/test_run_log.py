"""In Chromium: 「実行する」 for 顧客閲覧URL連携 → the 連携ログ row goes 処理中 → 成功 without a reload,
a concurrent second run ends in エラー with its 「エラー詳細」 dialog, and kintone holds the URLs."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from portal.demo_fixtures import DEMO_CONNECTOR_NAME, create_haihai_account, create_kintone_app

pytestmark = pytest.mark.e2e

SUBDOMAIN = "acme"
KINTONE_TOKEN = "E2eViewUrlAppToken0000000000000000000001"
HAIHAI_KEY = "m13579"
HAIHAI_LOGIN = "e2e-admin"
HAIHAI_TOKEN = "e2e0haihai0token0000000000000002"
SLOW_KINTONE_MS = 1500  # per call, so the run stays 処理中 long enough to be watched
BUSY = "他の処理が実行されています。時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"

CUSTOMERS = ["sato@example.co.jp", "suzuki@example.co.jp", "tanaka@example.co.jp"]
KINTONE_PEOPLE = [
    "sato@example.co.jp",
    "suzuki@EXAMPLE.co.jp",  # the domain's case does not matter
    "Tanaka@example.co.jp",  # the local part's does: no match
    "kato@example.co.jp",  # not a 配配メール customer
]


@pytest.fixture
def live_portal_env(kintone_sandbox) -> dict[str, str]:
    """Point the portal at the kintone sandbox."""
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


def _seed_connector(live_portal, kintone_url: str, haihai_url: str, owner: str) -> tuple[str, str]:
    """A connector with Steps 1–4 synced and Step7 (手動実行, field view_url) → (id, app id)."""
    fields = {
        "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "view_url": {"type": "LINK", "label": "配配メールURL", "protocol": "WEB"},
    }
    records = [{"email": {"value": e}, "name": {"value": e.split("@")[0]}} for e in KINTONE_PEOPLE]
    app_id, token = create_kintone_app(
        kintone_url, subdomain=SUBDOMAIN, fields=fields, token=KINTONE_TOKEN, records=records
    )
    create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=[{"item_id": "I10", "label": "氏名", "type": "text"}],
        customers=[{"email": e} for e in CUSTOMERS],
    )
    connector_id = live_portal.configure_demo_connector(
        owner,
        haihai_url,
        kintone={"subdomain": SUBDOMAIN, "app_id": app_id, "api_token": token},
        haihai={"account_key": HAIHAI_KEY, "login_id": HAIHAI_LOGIN, "api_token": HAIHAI_TOKEN},
    )
    return connector_id, app_id


def _column_widths(page) -> list[int]:
    return page.eval_on_selector_all(
        "#run-log-table thead th",
        "cells => cells.map(c => Math.round(c.getBoundingClientRect().width))",
    )


def _get(url: str, **params) -> dict:
    with requests.get(url, params=params, timeout=10) as response:
        response.raise_for_status()
        return response.json()


def test_view_url_run_is_watched_live_in_the_log_and_writes_the_urls(
    signed_in_page, kintone_sandbox, haihai_sandbox
):
    portal, page = signed_in_page.portal, signed_in_page.page
    connector_id, app_id = _seed_connector(
        portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id
    )
    portal.spawn("jobs", "worker", "--name", "e2e-worker-1")
    portal.spawn("jobs", "worker", "--name", "e2e-worker-2")
    requests.post(
        f"{kintone_sandbox}/_sandbox/config", json={"latency_ms": SLOW_KINTONE_MS}, timeout=10
    )

    # From the コネクター一覧: the row's 「実行」 button opens the 実行 page.
    page.goto(f"{portal.url}/")
    page.locator(f"#connector-{connector_id}").get_by_role("link", name="実行").click()
    page.wait_for_url(f"{portal.url}/connectors/{connector_id}/run")
    row = page.locator("#process-view_url")
    expect(row.locator(".process-name")).to_have_text("顧客閲覧URL連携")
    expect(
        page.locator("#process-customer-1").get_by_role("button", name="実行する")
    ).to_be_disabled()

    row.get_by_role("button", name="実行する").click()
    started = row.locator(".run-started")
    expect(started).to_be_visible()
    first_id = started.get_attribute("data-run-id")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first_id)

    # The run shows up at once and changes state by itself (no reload).
    log_row = page.locator(f"#run-{first_id}")
    expect(log_row.locator(".run-name")).to_have_text(f"{DEMO_CONNECTOR_NAME} / 顧客閲覧URL連携")
    expect(log_row.locator(".run-status-label")).to_have_text("処理中", timeout=20_000)
    expect(log_row.locator(".run-progress")).to_be_visible()
    widths_while_running = _column_widths(page)
    # The account menu reads white on the blue bar.
    assert page.eval_on_selector("#account-menu", "e => getComputedStyle(e).color") == (
        "rgb(255, 255, 255)"
    )

    # A second press while the first is running is refused at once with the manual's busy
    # message; the refused request is logged as エラー and never executes.
    row.get_by_role("button", name="実行する").click()
    refusal = row.locator("[role=alert]")
    expect(refusal).to_contain_text(BUSY)
    second_id = re.search(r"タスクID:([0-9A-Z]{26})", refusal.inner_text()).group(1)
    assert second_id != first_id
    busy_row = page.locator(f"#run-{second_id}")
    expect(busy_row.locator(".run-status-label")).to_have_text("エラー", timeout=20_000)

    expect(log_row.locator(".run-status-label")).to_have_text("成功", timeout=60_000)
    expect(log_row.locator(".run-count")).to_have_text("4 / 4")
    assert _column_widths(page) == widths_while_running  # no jump when the bar goes away
    expect(log_row.locator(".run-time")).to_have_text(
        re.compile(r"^\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}:\d{2} - \d{2}:\d{2}:\d{2}$")
    )
    # The whole time range fits its column: nothing runs under the status badge.
    overflowing = page.eval_on_selector_all(
        "#run-log-table td.run-time", "cells => cells.filter(c => c.scrollWidth > c.clientWidth)"
    )
    assert overflowing == []

    # 「エラー詳細」 of the refused run: the manual's message and its タスクID, then 「閉じる」.
    busy_row = page.locator(f"#run-{second_id}")
    busy_row.get_by_role("button", name="エラー詳細").click()
    dialog = page.locator("#run-error-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".run-detail-text")).to_have_text(BUSY)
    expect(dialog.locator(".run-task-id")).to_have_text(f"タスクID:{second_id}")
    dialog.get_by_role("button", name="閉じる").click()
    expect(dialog).to_be_hidden()

    # The コネクター一覧 shows the same 連携ログ.
    page.goto(f"{portal.url}/")
    expect(page.locator(f"#run-{first_id} .run-status-label")).to_have_text("成功")
    expect(page.locator("#run-log-range")).to_have_text("1-2 of 2")

    # kintone now holds each matching customer's 閲覧ページ URL, and nothing else changed.
    requests.post(f"{kintone_sandbox}/_sandbox/config", json={"latency_ms": 0}, timeout=10)
    customers = _get(f"{haihai_sandbox}/_sandbox/customers", account=HAIHAI_KEY)["customers"]
    urls = {c["email"]: c["view_url"] for c in customers}
    records = _get(f"{kintone_sandbox}/_sandbox/records", subdomain=SUBDOMAIN, app=app_id)[
        "records"
    ]
    written = {r["email"]["value"]: r["view_url"]["value"] for r in records}
    assert written == {
        "sato@example.co.jp": urls["sato@example.co.jp"],
        "suzuki@EXAMPLE.co.jp": urls["suzuki@example.co.jp"],
        "Tanaka@example.co.jp": "",
        "kato@example.co.jp": "",
    }


def test_the_log_comes_with_the_page_so_a_run_started_at_once_shows_up_in_it(
    signed_in_page, kintone_sandbox, haihai_sandbox
):
    portal, page = signed_in_page.portal, signed_in_page.page
    connector_id, _ = _seed_connector(
        portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id
    )
    portal.spawn("jobs", "worker", "--name", "e2e-worker-slow-log")

    # The log comes with the page (no second request that could answer from before the run):
    # a press as soon as the page is there still shows the run in it.
    log_loads = []
    page.on("request", lambda r: "/runs/log" in r.url and log_loads.append(r.url))
    response = page.goto(f"{portal.url}/connectors/{connector_id}/run", wait_until="commit")
    assert 'id="run-log-table"' in response.text()
    row = page.locator("#process-view_url")
    row.get_by_role("button", name="実行する").click()
    assert log_loads == []  # nothing of the log was still on its way when the button was pressed
    started = row.locator(".run-started")
    expect(started).to_be_visible()
    run_id = started.get_attribute("data-run-id")
    expect(page.locator(f"#run-{run_id} .run-status-label")).to_have_text(
        re.compile("待機中|処理中|成功"), timeout=15_000
    )
