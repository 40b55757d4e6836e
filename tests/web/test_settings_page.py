"""連携設定 page: structure, tenancy, field validation and saving all-or-nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.models import Connector
from portal.settings import messages as msg
from tests.support.settings_env import (
    HAIHAI_TOKEN,
    KINTONE_TOKEN,
    SUBDOMAIN,
    field_error,
    make_env,
    text_of,
)


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    return make_env(app, client, kintone_sandbox, haihai_sandbox)


def test_page_shows_steps_in_order_with_the_manual_labels(env):
    html = env.page()
    titles = [
        "Step1. 配配メールコネクタ基本設定",
        "Step2. 配配メール連携設定",
        "Step3. kintone連携設定",
        "Step4. 連携項目設定",
        "Step7. 顧客閲覧URL連携",
    ]
    positions = [html.index(title) for title in titles]
    assert positions == sorted(positions)
    page = text_of(html)
    for label in (
        "連携設定名",
        "配配メールコネクタ kintone プラグイン用トークン",
        "配配メールURL",
        "ログインID",
        "APIトークン",
        "連携設定方法",
        "手動で設定する",
        "配配メールから同期した内容から設定する",
        "配配メール設定の同期",
        "kintoneサブドメイン名",
        "kintone アプリID",
        "kintone APIトークン",
        "kintone項目の同期",
        "連携項目の設定",
        "連携タイミング",
        "連携しない",
        "手動実行",
        "スケジュール実行",
        "保存",
    ):
        assert label in page, label
    # Step1 offers the plugin's Setup.zip beside the token (manual Step1).
    assert "kintone プラグインのセットアップ" in page
    assert 'id="plugin-setup-download"' in html
    assert html.count('id="settings-save"') == 1


def test_page_of_another_accounts_connector_is_404_everywhere(env, app):
    from tests.support.accounts import create_account

    other = create_account(app, "HC9999")
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=other.id, name="他社の連携")
        session.add(connector)
        session.flush()
        foreign = connector.id
    base = f"/connectors/{foreign}/settings"
    client = env.client
    assert client.get(base).status_code == 404
    for path in ("", "/haihai-sync", "/kintone-sync", "/kintone-check", "/plugin-token"):
        assert client.post(base + path, data={"name": "x"}).status_code == 404, path
    for path in ("/mapping", "/haihai-sync/result", "/kintone-sync/result", "/sections/step4"):
        assert client.get(base + path).status_code == 404, path
    assert client.get("/connectors/01NOSUCHCONNECTOR000000000/settings").status_code == 404
    with app.app_context(), session_scope() as session:
        assert session.get(Connector, foreign).name == "他社の連携"


def test_signed_out_visitor_is_sent_to_login(app, env):
    response = app.test_client().get(env.base)
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


def test_empty_form_is_refused_with_a_message_next_to_each_field(env):
    response = env.post("", {"view_url-timing": "off"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for name in (
        "name",
        "haihai_url",
        "haihai_login_id",
        "haihai_api_token",
        "kintone_subdomain",
        "kintone_app_id",
        "kintone_api_token",
    ):
        assert field_error(html, name) == msg.REQUIRED, name
    assert field_error(html, "haihai_method") == msg.CHOOSE_METHOD
    assert field_error(html, "kintone_sync") == msg.KINTONE_SYNC_NEEDED
    assert msg.SAVE_FAILED in text_of(html)
    with env.app.app_context(), session_scope() as session:
        assert session.get(Connector, env.connector_id).name == "顧客リスト連携"


BAD_URLS = (
    "http://xxxx.hm-f.jp/m12345/",
    "https://example.com/m12345/",
    "https://a03.hm-f.jp/",
    "https://a03.hm-f.jp/m12345/extra/",
    "a03.hm-f.jp/m12345",
)


def test_bad_haihai_url_gets_the_manuals_message(env):
    for url in BAD_URLS:
        response = env.post("", env.access_form(haihai_url=url))
        assert response.status_code == 422
        assert field_error(response.get_data(as_text=True), "haihai_url") == (
            "正しい配配メールURLではありません。https://xxxx.hm-f.jp/mXXXXX/の形式で入力してください。"
        ), url
    response = env.post("", env.access_form(haihai_url="https://a03.hm-f.jp/m12345"))
    assert field_error(response.get_data(as_text=True), "haihai_url") is None


def test_local_sandbox_url_is_refused_unless_the_portal_allows_it(env):
    env.app.config["HAIHAI_ALLOW_LOCAL_URLS"] = False
    response = env.post("", env.access_form(haihai_method="manual"))
    assert field_error(response.get_data(as_text=True), "haihai_url") == msg.HAIHAI_URL_FORMAT
    env.app.config["HAIHAI_ALLOW_LOCAL_URLS"] = True
    response = env.post("", env.access_form(haihai_method="manual"))
    assert field_error(response.get_data(as_text=True), "haihai_url") is None


FORMAT_CASES = (
    ("kintone_subdomain", "acme.cybozu.com", msg.KINTONE_SUBDOMAIN_FORMAT),
    ("kintone_subdomain", "-acme", msg.KINTONE_SUBDOMAIN_FORMAT),
    ("kintone_app_id", "12a", msg.KINTONE_APP_ID_FORMAT),
    ("kintone_app_id", "0", msg.KINTONE_APP_ID_FORMAT),
    ("kintone_app_id", "１２", msg.KINTONE_APP_ID_FORMAT),
    ("kintone_api_token", "abc,def", msg.KINTONE_TOKEN_FORMAT),
    ("haihai_api_token", "has space", msg.HAIHAI_TOKEN_FORMAT),
    ("name", "あ" * 101, msg.NAME_TOO_LONG),
    ("haihai_login_id", "x" * 256, msg.TEXT_TOO_LONG),
)


def test_field_format_errors_name_what_to_fix(env):
    for name, value, message in FORMAT_CASES:
        response = env.post("", env.access_form(**{name: value}))
        assert response.status_code == 422
        assert field_error(response.get_data(as_text=True), name) == message, (name, value)


def test_one_error_anywhere_saves_nothing(env):
    env.sync_both()
    before = env.stored()
    form = env.valid_form(name="新しい名前", haihai_login_id="changed@acme", kintone_app_id="x")
    response = env.post("", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "kintone_app_id") == msg.KINTONE_APP_ID_FORMAT
    # The refused values are shown again as typed, so the user can fix just the one field.
    assert 'value="新しい名前"' in html
    after = env.stored()
    assert after.haihai_login_id == before.haihai_login_id
    with env.app.app_context(), session_scope() as session:
        assert session.get(Connector, env.connector_id).name == "顧客リスト連携"


def test_valid_form_saves_every_step_and_the_typed_config_follows(env):
    env.sync_both()
    response = env.post("", env.valid_form(name="本番連携"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert msg.SAVED in text_of(response.get_data(as_text=True))
    stored = env.stored()
    assert stored.haihai_url == env.haihai_base
    assert stored.haihai_method == "synced"
    assert (stored.kintone_subdomain, stored.kintone_app_id) == (SUBDOMAIN, env.app_id)
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert config.name == "本番連携"
    assert config.timezone == "Asia/Tokyo"
    assert config.kintone.base_url == f"{env.kintone_url}/{SUBDOMAIN}"
    assert config.kintone.api_token == KINTONE_TOKEN
    assert config.haihai.api_token == HAIHAI_TOKEN
    assert config.haihai.base_url == env.haihai_base
    assert [(m.kintone_code, m.haihai_item, m.is_email) for m in config.mappings] == [
        ("email", "メールアドレス", True),
        ("name", "氏名", False),
    ]
    assert config.mappings[0].kintone_type == "SINGLE_LINE_TEXT"
    assert config.mappings[1].kintone_label == "氏名"
    assert config.email_display_name == "メールアドレス"
    assert config.kintone_fields["email"]["label"] == "メールアドレス"
    assert config.section("step7").timing == "off"


def test_non_htmx_save_redirects_back_to_the_page_with_a_notice(env):
    env.sync_both()
    response = env.client.post(env.base, data=env.valid_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(env.base)
    assert msg.SAVED in text_of(env.page())


def test_secrets_are_encrypted_at_rest(env):
    env.sync_both()
    env.post("", env.valid_form())
    with env.app.app_context(), session_scope() as session:
        row = session.execute(
            text(
                "SELECT haihai_api_token, kintone_api_token FROM connector_settings "
                "WHERE connector_id = :id"
            ),
            {"id": env.connector_id},
        ).one()
    assert HAIHAI_TOKEN not in row[0] and KINTONE_TOKEN not in row[1]
    assert row[0].startswith("gAAAA") and row[1].startswith("gAAAA")  # Fernet tokens


def test_stored_tokens_never_appear_in_any_response(env):
    env.sync_both()
    env.post("", env.valid_form())
    responses = [
        env.client.get(env.base),
        env.post("", env.valid_form(haihai_api_token="••••••••", kintone_api_token="••••••••")),
        env.post("", env.valid_form(haihai_api_token="••••••••", kintone_app_id="x")),
        env.post("/haihai-sync", env.access_form(haihai_api_token="••••••••")),
        env.post("/kintone-sync", env.access_form(kintone_api_token="••••••••")),
        env.post("/kintone-check", env.access_form(kintone_api_token="••••••••")),
        env.get("/mapping"),
        env.get("/haihai-sync/result"),
        env.get("/kintone-sync/result"),
        env.get("/sections/step2"),
        env.get("/sections/step3"),
    ]
    for response in responses:
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 422)
        assert HAIHAI_TOKEN not in body
        assert KINTONE_TOKEN not in body
    page = responses[0].get_data(as_text=True)
    # Only the two stored secrets show the placeholder as their value (not the empty Step8 one).
    assert len(re.findall(r'\svalue="••••••••"', page)) == 2


def test_posting_the_placeholder_keeps_the_stored_token_and_a_new_value_replaces_it(env):
    env.sync_both()
    env.post("", env.valid_form())
    response = env.post(
        "", env.valid_form(haihai_api_token="••••••••", kintone_api_token="••••••••")
    )
    assert response.status_code == 200
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert (config.haihai.api_token, config.kintone.api_token) == (HAIHAI_TOKEN, KINTONE_TOKEN)
    # An emptied secret is an error, not a way to keep or erase the stored one.
    response = env.post("", env.valid_form(kintone_api_token=""))
    assert field_error(response.get_data(as_text=True), "kintone_api_token") == msg.REQUIRED
    # A new token replaces the stored one (saving checks nothing remote).
    response = env.post("", env.valid_form(haihai_api_token="rotated-token-0002"))
    assert response.status_code == 200
    with env.app.app_context(), session_scope() as session:
        assert load_connector_config(session, env.connector_id).haihai.api_token == (
            "rotated-token-0002"
        )


def test_synced_method_needs_a_sync_of_the_same_url(env):
    response = env.post("", env.access_form())
    assert field_error(response.get_data(as_text=True), "haihai_sync") == msg.HAIHAI_SYNC_NEEDED
    env.sync_both()
    other = env.haihai_base.replace("/m12345/", "/m99999/")
    response = env.post("", env.valid_form(haihai_url=other))
    assert field_error(response.get_data(as_text=True), "haihai_sync") == msg.HAIHAI_SYNC_STALE


def test_changed_kintone_app_needs_a_new_field_sync(env):
    env.sync_both()
    response = env.post("", env.valid_form(kintone_app_id="999"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "kintone_sync") == msg.KINTONE_SYNC_STALE
