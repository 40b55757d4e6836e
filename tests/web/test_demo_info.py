"""「デモ環境の接続情報」: only in the demo, with the sandboxes' live values; the demo banner."""

from __future__ import annotations

from html import unescape

import pytest

from portal import create_app
from portal.demo import connection_lines
from portal.demo_fixtures import create_haihai_account, create_kintone_app
from sandbox.serve import free_port
from tests.support.accounts import create_account, sign_in


@pytest.fixture
def demo_app(app_config, kintone_sandbox, haihai_sandbox):
    application = create_app(
        {**app_config, "DEMO_KINTONE_URL": kintone_sandbox, "DEMO_HAIHAI_URL": haihai_sandbox}
    )
    yield application
    application.extensions["db_engine"].dispose()


def _signed_in(application):
    client = application.test_client()
    sign_in(client, create_account(application, "demo"))
    return client


def test_the_page_lists_every_token_the_sandboxes_issued(demo_app, kintone_sandbox, haihai_sandbox):
    app_id, token = create_kintone_app(
        kintone_sandbox, subdomain="demo", fields={}, token="DemoToken0001"
    )
    second_id, second = create_kintone_app(
        kintone_sandbox, subdomain="demo", fields={}, name="商談"
    )
    base = create_haihai_account(
        haihai_sandbox, account_key="m10001", login_id="demo-admin", api_token="demo-haihai-tok"
    )
    client = _signed_in(demo_app)
    menu = client.get("/").get_data(as_text=True)
    assert 'href="/demo/connection">デモ環境の接続情報</a>' in menu
    response = client.get("/demo/connection")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert '<h1 class="h4 mb-2">デモ環境の接続情報</h1>' in html
    assert '<td class="demo-subdomain">demo</td>' in html
    assert f'<td class="demo-app-id">{app_id}</td>' in html
    assert 'value="DemoToken0001"' in html
    assert f'<td class="demo-app-id">{second_id}</td>' in html and f'value="{second}"' in html
    assert f'<td class="demo-haihai-url">{base}</td>' in html
    assert '<td class="demo-login-id">demo-admin</td>' in html
    assert 'value="demo-haihai-tok"' in html
    assert token == "DemoToken0001"


def test_unreachable_sandboxes_are_said_in_japanese(app_config):
    dead = f"http://127.0.0.1:{free_port()}"
    application = create_app({**app_config, "DEMO_KINTONE_URL": dead, "DEMO_HAIHAI_URL": dead})
    try:
        html = _signed_in(application).get("/demo/connection").get_data(as_text=True)
        assert "デモ環境のkintoneサンドボックスに接続できませんでした。" in html
        assert "デモ環境の配配メールサンドボックスに接続できませんでした。" in html
    finally:
        application.extensions["db_engine"].dispose()


def test_outside_the_demo_the_page_does_not_exist(app, client, account):
    sign_in(client, account)
    assert client.get("/demo/connection").status_code == 404
    assert "デモ環境の接続情報" not in client.get("/").get_data(as_text=True)


def test_the_page_needs_a_sign_in(demo_app):
    response = demo_app.test_client().get("/demo/connection")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_demo_banner_prints_the_connection_values():
    seeds = {
        "kintone": {"subdomain": "demo", "app_id": "1", "api_token": "KTOKEN"},
        "haihai": {
            "url": "http://127.0.0.1:8102/m10001/",
            "login_id": "demo-admin",
            "api_token": "HTOKEN",
        },
    }
    text = "\n".join(connection_lines(seeds))
    assert "デモ環境の接続情報" in text
    assert "サブドメイン: demo   アプリID: 1   APIトークン: KTOKEN" in text
    assert (
        "URL: http://127.0.0.1:8102/m10001/   ログインID: demo-admin   APIトークン: HTOKEN" in text
    )
