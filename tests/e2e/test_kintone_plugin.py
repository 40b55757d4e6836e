"""In Chromium: Setup.zip from the login page → the plugin imported into the kintone sandbox,
added to the app and set up (URL, token from Step1, setting) → 「配配メールへ連携」 on a filtered
view → the run ends 成功 in the list and in the 連携ログ, and the 配配メール sandbox holds exactly the
view's records. A second press after a kintone failure shows the same エラー詳細 as the 連携ログ.

Screenshots go to $PLUGIN_SCREENSHOTS (or the test's tmp folder).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from portal.demo_fixtures import (
    DEMO_CONNECTOR_NAME,
    choice_field_options,
    create_haihai_account,
    create_kintone_app,
)

pytestmark = pytest.mark.e2e

SUBDOMAIN = "acme"
KINTONE_TOKEN = "E2ePluginAppToken0000000000000000000001"
HAIHAI_KEY = "m13579"
HAIHAI_LOGIN = "e2e-plugin"
HAIHAI_TOKEN = "e2e0plugin0token000000000000001"
RUN_TIMEOUT_MS = 90_000
PLUGIN_NAME = "配配メールコネクタ kintone プラグイン"

PEOPLE = [
    ("sato@example.co.jp", "佐藤 健一", "製造業", 120),
    ("suzuki@example.co.jp", "鈴木 美咲", "製造業", 30),
    ("takahashi@example.co.jp", "高橋 翔太", "小売業", 500),
    ("tanaka@example.co.jp", "田中 由美", "製造業", 50),
    ("ito@example.co.jp", "伊藤 彩", "", 900),
]
VIEW_CONDITION = 'industry in ("製造業") and employees >= 50'
EXPECTED = {"sato@example.co.jp", "tanaka@example.co.jp"}


@pytest.fixture
def live_portal_env(kintone_sandbox) -> dict[str, str]:
    """Point the portal's processes at the kintone sandbox."""
    return {"KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("PLUGIN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _seed(live_portal, kintone_url: str, haihai_url: str, owner: str) -> tuple[str, int]:
    """Steps 1–4 through the portal's own code, and 顧客情報連携設定 1 (手動実行, 顧客データベース)."""
    fields = {
        "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス", "unique": True},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": choice_field_options(("製造業", "小売業")),
        },
        "employees": {"type": "NUMBER", "label": "従業員数"},
    }
    records = [
        {
            "email": {"value": email},
            "name": {"value": name},
            "industry": {"value": industry},
            "employees": {"value": str(employees)},
        }
        for email, name, industry, employees in PEOPLE
    ]
    app_id, token = create_kintone_app(
        kintone_url, subdomain=SUBDOMAIN, fields=fields, token=KINTONE_TOKEN, records=records
    )
    create_haihai_account(
        haihai_url,
        account_key=HAIHAI_KEY,
        login_id=HAIHAI_LOGIN,
        api_token=HAIHAI_TOKEN,
        items=[{"item_id": "I10", "label": "氏名", "type": "text"}],
        groups=[{"gid": "1", "name": "メールマガジン"}],
        plans=[],
    )
    connector_id = live_portal.configure_demo_connector(
        owner,
        haihai_url,
        kintone={"subdomain": SUBDOMAIN, "app_id": app_id, "api_token": token},
        haihai={"account_key": HAIHAI_KEY, "login_id": HAIHAI_LOGIN, "api_token": HAIHAI_TOKEN},
    )
    _add_customer_setting(live_portal, connector_id)
    return connector_id, int(app_id)


def _add_customer_setting(live_portal, connector_id: str) -> None:
    from portal import create_app
    from portal.db import session_scope
    from portal.models.customer_syncs import CustomerSyncRow

    env = live_portal.env
    app = create_app(
        {
            "DATABASE_URL": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
            "INSTANCE_PATH": str(live_portal.instance_path),
            "SECRET_KEY": env["SECRET_KEY"],
            "PORTAL_SECRET_KEY": env["PORTAL_SECRET_KEY"],
        }
    )
    try:
        with app.app_context(), session_scope() as session:
            session.add(CustomerSyncRow(connector_id=connector_id, number=1, timing="manual"))
    finally:
        app.extensions["db_engine"].dispose()


def _download_setup_zip(chromium, portal_url: str, folder: Path) -> bytes:
    """Anonymous visitor: 「ダウンロード」 on the login page."""
    context = chromium.new_context(locale="ja-JP", accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{portal_url}/login")
        with page.expect_download() as info:
            page.locator("#plugin-setup-download").click()
        download = info.value
        assert download.suggested_filename == "Setup.zip"
        target = folder / "Setup.zip"
        download.save_as(target)
        return target.read_bytes()
    finally:
        context.close()


def _issue_token(page, portal_url: str, connector_id: str) -> str:
    """Step1 「発行」: the token is shown once."""
    page.goto(f"{portal_url}/connectors/{connector_id}/settings")
    page.locator("#plugin-token-issue").click()
    value = page.locator("#plugin-token-value")
    expect(value).to_be_visible()
    return value.input_value()


def _haihai_customers(haihai_url: str) -> list[dict]:
    with requests.get(
        f"{haihai_url}/_sandbox/customers", params={"account": HAIHAI_KEY}, timeout=10
    ) as response:
        response.raise_for_status()
        return response.json()["customers"]


def test_plugin_runs_the_views_records_from_kintone(
    signed_in_page, _chromium, kintone_sandbox, haihai_sandbox, shots
):
    portal = signed_in_page.portal
    page = signed_in_page.page
    connector_id, app_id = _seed(
        portal, kintone_sandbox, haihai_sandbox, signed_in_page.connector_id
    )
    portal.spawn("jobs", "worker")
    kintone = f"{kintone_sandbox}/{SUBDOMAIN}/k/"

    # 1. Setup.zip from the login page holds the signed plugin.
    setup = _download_setup_zip(_chromium, portal.url, shots)
    with zipfile.ZipFile(io.BytesIO(setup)) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "hai2-connect-plugin.zip"]
        archive.extract("hai2-connect-plugin.zip", shots)
    plugin_file = shots / "hai2-connect-plugin.zip"
    token = _issue_token(page, portal.url, connector_id)

    # 2. kintone: import the plugin, add it to the app, open its settings.
    page.goto(kintone + "admin/system/plugin/")
    page.locator("#ksb-plugin-file").set_input_files(plugin_file)
    page.get_by_role("button", name="読み込む").click()
    expect(page.locator(".ksb-notice")).to_contain_text("を読み込みました")
    plugin_id = page.locator(".ksb-plugin-id").first.inner_text()
    assert re.fullmatch(r"[a-p]{32}", plugin_id)
    page.goto(f"{kintone}admin/app/{app_id}/plugin/")
    page.get_by_label("プラグインの追加").select_option(label=PLUGIN_NAME)
    page.get_by_role("button", name="追加").click()
    expect(page.locator(f"tr[data-plugin-id='{plugin_id}']")).to_contain_text(
        "設定が完了していません"
    )
    page.get_by_role("link", name="設定").click()

    # 3. The settings screen: field checks, then URL + token → 接続を確認 → choose → 保存する.
    expect(page.get_by_role("heading", name=re.compile("プラグインの設定"))).to_be_visible()
    page.get_by_role("button", name="保存する").click()
    expect(page.locator("#hai2-portal-url-error")).to_have_text(
        "配配メールコネクタのURLを入力してください。"
    )
    page.get_by_label("配配メールコネクタのURL").fill("ftp://portal")
    page.get_by_role("button", name="接続を確認").click()
    expect(page.locator("#hai2-portal-url-error")).to_contain_text("https:// で始まる形式")
    page.get_by_label("配配メールコネクタのURL").fill(portal.url + "/")
    page.get_by_label("配配メールコネクタ kintone プラグイン用トークン").fill("wrong.token")
    page.get_by_role("button", name="接続を確認").click()
    expect(page.locator("#hai2-check-result")).to_contain_text(
        "プラグイン用トークンが正しくありません"
    )
    page.get_by_label("配配メールコネクタ kintone プラグイン用トークン").fill(token)
    page.get_by_role("button", name="接続を確認").click()
    expect(page.locator("#hai2-check-result")).to_have_text(
        f"接続できました。連携設定: {DEMO_CONNECTOR_NAME}"
    )
    page.get_by_role("button", name="保存する").click()
    expect(page.locator("#hai2-settings-error")).to_have_text(
        "実行する顧客情報連携設定を1つ以上選択してください。"
    )
    page.get_by_label(re.compile("顧客情報連携 1")).check()
    page.screenshot(path=shots / "plugin-config.png", full_page=True)
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(f"{kintone}admin/app/{app_id}/plugin/")
    expect(page.locator(f"tr[data-plugin-id='{plugin_id}']")).not_to_contain_text(
        "設定が完了していません"
    )

    # The token is stored only as proxy configuration, never in the plugin's config.
    stored = requests.get(
        f"{kintone_sandbox}/_sandbox/plugins", params={"subdomain": SUBDOMAIN}, timeout=10
    ).json()["plugins"][0]["apps"][0]
    assert token not in str(stored["config"])
    assert {(c["method"], c["headers"]["Authorization"]) for c in stored["proxyConfigs"]} == {
        ("GET", f"Bearer {token}"),
        ("POST", f"Bearer {token}"),
    }

    # 4. The record list of a filtered view: 「配配メールへ連携」.
    view = requests.post(
        f"{kintone_sandbox}/_sandbox/views",
        json={
            "subdomain": SUBDOMAIN,
            "app": app_id,
            "name": "製造業（50名以上）",
            "filterCond": VIEW_CONDITION,
        },
        timeout=10,
    ).json()["id"]
    page.goto(f"{kintone}{app_id}/?view={view}")
    button = page.get_by_role("button", name="配配メールへ連携")
    expect(button).to_be_visible()
    assert "Bearer" not in page.content()  # the list page never holds the token
    page.screenshot(path=shots / "record-list-button.png", full_page=True)
    button.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"レコード {len(EXPECTED)} 件を配配メールへ連携します")
    page.screenshot(path=shots / "record-list-confirm.png", full_page=True)
    dialog.get_by_role("button", name="連携する").dblclick()
    status = page.locator("#hai2-connect-status")
    expect(status.locator(".hai2-badge")).to_have_text("成功", timeout=RUN_TIMEOUT_MS)
    expect(status.locator(".hai2-count")).to_have_text(
        f"処理件数: {len(EXPECTED)} / {len(EXPECTED)}"
    )
    task_id = status.locator(".hai2-task-id").inner_text().removeprefix("タスクID:")
    expect(button).to_be_enabled()
    page.screenshot(path=shots / "record-list-finished.png", full_page=True)

    assert {c["email"] for c in _haihai_customers(haihai_sandbox)} == EXPECTED

    # 5. The 連携ログ shows the run under the manual's name, once.
    page.goto(f"{portal.url}/")
    row = page.locator(f"#run-{task_id}")
    expect(row.locator(".run-name")).to_have_text(
        f"{DEMO_CONNECTOR_NAME} / 顧客情報連携 (kintoneからの実行)"
    )
    expect(row.locator(".run-status-label")).to_have_text("成功")
    expect(row.locator(".run-count")).to_have_text(f"{len(EXPECTED)} / {len(EXPECTED)}")
    expect(page.locator("tr.run-row").filter(has_text="kintoneからの実行")).to_have_count(1)

    # 6. kintone refuses the token now: the list shows the 連携ログ's エラー詳細 text.
    requests.post(
        f"{kintone_sandbox}/_sandbox/config",
        json={
            "faults": [
                {
                    "path": "/k/v1/app/form/fields.json",
                    "status": 520,
                    "code": "CB_IJ01",
                    "times": 50,
                }
            ]
        },
        timeout=10,
    ).raise_for_status()
    page.goto(f"{kintone}{app_id}/?view={view}")
    page.get_by_role("button", name="配配メールへ連携").click()
    page.get_by_role("dialog").get_by_role("button", name="連携する").click()
    status = page.locator("#hai2-connect-status")
    expect(status.locator(".hai2-badge")).to_have_text("エラー", timeout=RUN_TIMEOUT_MS)
    shown = status.locator(".hai2-error-detail").inner_text()
    failed_task = status.locator(".hai2-task-id").inner_text().removeprefix("タスクID:")
    page.screenshot(path=shots / "record-list-failed.png", full_page=True)
    requests.post(f"{kintone_sandbox}/_sandbox/config", json={"faults": []}, timeout=10)

    page.goto(f"{portal.url}/")
    failed_row = page.locator(f"#run-{failed_task}")
    failed_row.get_by_role("button", name="エラー詳細").click()
    detail = page.locator("#run-error-dialog .run-detail-text")
    expect(detail).to_be_visible()
    assert detail.inner_text().strip() == shown.strip()
    assert shown.strip()
