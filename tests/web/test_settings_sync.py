"""Step1 plugin token and the two sync buttons of Steps 2 and 3, with their error messages."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests

from portal.db import session_scope
from portal.messages import kintone as kintone_msg
from portal.models import Account
from portal.models.settings import ConnectorSettings
from portal.settings import messages as msg
from portal.settings.service import verify_plugin_token
from sandbox.serve import free_port
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


def _token_in(html: str) -> str:
    marker = 'id="plugin-token-value" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _verify(env, token: str):
    with env.app.app_context(), session_scope() as session:
        connector = verify_plugin_token(session, token)
        return connector.id if connector else None


# --- Step1: plugin token -----------------------------------------------------------------------


def test_plugin_token_is_shown_once_then_only_said_to_be_set(env):
    assert "未発行" in text_of(env.page())
    response = env.post("/plugin-token")
    html = response.get_data(as_text=True)
    token = _token_in(html)
    assert len(token) > 40 and "readonly" in html
    assert 'data-copy-target="#plugin-token-value"' in html
    page = env.page()
    assert token not in page
    assert "設定済み" in text_of(page) and "再発行" in text_of(page)
    stored = env.stored()
    assert token not in (stored.plugin_token_hash or "") and stored.plugin_token_lookup
    assert _verify(env, token) == env.connector_id


def test_reissued_plugin_token_revokes_the_old_one(env):
    first = _token_in(env.post("/plugin-token").get_data(as_text=True))
    second = _token_in(env.post("/plugin-token").get_data(as_text=True))
    assert first != second
    assert _verify(env, first) is None
    assert _verify(env, second) == env.connector_id


def test_malformed_or_unknown_plugin_tokens_are_refused(env):
    token = _token_in(env.post("/plugin-token").get_data(as_text=True))
    lookup = token.split(".")[0]
    for candidate in ("", "no-separator", ".", "x.y", "a" * 300, lookup, lookup + ".", token + "x"):
        assert _verify(env, candidate) is None, candidate


def test_plugin_token_of_a_disabled_account_is_refused(env):
    token = _token_in(env.post("/plugin-token").get_data(as_text=True))
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _verify(env, tampered) is None
    with env.app.app_context(), session_scope() as session:
        session.get(Account, env.account_id).disabled = True
    assert _verify(env, token) is None


# --- Step2: 配配メール設定の同期 ------------------------------------------------------------------


def test_haihai_sync_stores_the_lists_and_the_connection_it_used(env):
    response = env.post("/haihai-sync", env.access_form(name=""))
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == '{"haihaiSynced": {}}'
    page = text_of(response.get_data(as_text=True))
    assert (
        "配配メール設定を同期しました（項目 5件・配信グループ 1件・ステップメールプラン 1件・フォーム 0件）"
        in page
    )
    assert "最終同期日時: 20" in page
    stored = env.stored()
    assert stored.haihai_url == env.haihai_base and stored.haihai_login_id == "owner@acme"
    snapshot = stored.haihai_snapshot
    assert [i["label"] for i in snapshot["items"]] == [
        "メールアドレス",
        "氏名",
        "会社名",
        "業種",
        "旧姓",
    ]
    assert snapshot["items"][0]["is_email"] is True
    assert snapshot["groups"] == [{"id": "1", "name": "メールマガジン"}]
    assert snapshot["step_plans"] == [{"id": "1", "name": "資料請求フォロー"}]
    assert snapshot["bridge"] is False and snapshot["forms"] == []
    with env.app.app_context(), session_scope() as session:
        # The sync stores what it used; it does not save the rest of the page.
        from portal.models import Connector

        assert session.get(Connector, env.connector_id).name == "顧客リスト連携"


def test_haihai_sync_with_bridge_plan_fetches_forms(env):
    env.haihai_admin("PATCH", "", {"plan": "bridge"})
    env.haihai_admin("POST", "/forms", {"form_id": "7", "form_name": "お問い合わせフォーム"})
    env.post("/haihai-sync", env.access_form())
    snapshot = env.stored().haihai_snapshot
    assert snapshot["bridge"] is True
    assert snapshot["forms"] == [{"id": "7", "name": "お問い合わせフォーム"}]


def test_haihai_sync_refuses_invalid_fields_without_calling_out(env):
    response = env.post("/haihai-sync", env.access_form(haihai_url="https://bad/"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "haihai_url") == msg.HAIHAI_URL_FORMAT
    assert "HX-Trigger" not in response.headers


def _sync_error(response) -> str:
    html = response.get_data(as_text=True)
    marker = 'id="haihai-sync-error">'
    start = html.index(marker) + len(marker)
    return unescape(html[start : html.index("<", start)])


def test_haihai_bad_token_is_explained_next_to_the_button(env):
    response = env.post("/haihai-sync", env.access_form(haihai_api_token="wrong-token"))
    assert response.status_code == 200
    message = _sync_error(response)
    assert message.startswith("配配メールのログインIDまたはAPIトークンが正しくありません。")
    assert env.stored().haihai_snapshot is None
    assert "HX-Trigger" not in response.headers


def test_haihai_unreachable_host_is_explained(env):
    url = f"http://127.0.0.1:{free_port()}/m12345/"
    message = _sync_error(env.post("/haihai-sync", env.access_form(haihai_url=url)))
    assert message.startswith("配配メールに接続できませんでした。")


def test_haihai_ip_allowlist_refusal_is_explained(env):
    env.haihai_admin("PATCH", "", {"ip_allowlist": ["192.0.2.10"]})
    message = _sync_error(env.post("/haihai-sync", env.access_form()))
    assert message.startswith("配配メールがこのサーバーのIPアドレスからのAPI接続を拒否しました。")


def test_haihai_daily_limit_is_explained(env):
    env.haihai_admin("PATCH", "", {"daily_limit": 0})
    message = _sync_error(env.post("/haihai-sync", env.access_form()))
    assert "1日あたりの実行回数の上限" in message and "リセットされます" in message


# --- Step3: kintone項目の同期 and 接続テスト -------------------------------------------------------


def test_kintone_sync_stores_fields_app_name_and_connection(env):
    response = env.post("/kintone-sync", env.access_form())
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == '{"kintoneSynced": {}}'
    page = text_of(response.get_data(as_text=True))
    assert "アプリ名: 顧客リスト" in page
    assert "kintone項目を同期しました" in page
    stored = env.stored()
    assert stored.kintone_fields["email"]["type"] == "SINGLE_LINE_TEXT"
    assert "レコード番号" in stored.kintone_fields  # system fields come along
    assert (stored.kintone_subdomain, stored.kintone_app_id) == (SUBDOMAIN, env.app_id)
    assert stored.kintone_sync_report["source"] == {"subdomain": SUBDOMAIN, "app_id": env.app_id}
    assert stored.kintone_sync_report["permission_error"] is None


def _kintone_error(response, element: str = "kintone-sync-error") -> str:
    html = response.get_data(as_text=True)
    marker = f'id="{element}">'
    start = html.index(marker) + len(marker)
    return unescape(html[start : html.index("<", start)])


def test_kintone_bad_token_is_explained(env):
    response = env.post("/kintone-sync", env.access_form(kintone_api_token="WrongToken1"))
    assert _kintone_error(response) == kintone_msg.AUTH
    assert env.stored().kintone_fields is None


APP_ACCESS_999 = (
    "このkintone APIトークンでは、kintoneアプリ（アプリID: 999）にアクセスできません。"
    "アプリIDのアプリが存在しないか、APIトークンがこのアプリで発行されたものではありません。"
    "kintone アプリIDと、そのアプリの設定 > APIトークンで生成したkintone APIトークンを"
    "確認してください。"
)


def test_a_wrong_app_id_is_not_reported_as_missing_permissions(env):
    # kintone answers 403 GAIA_NO01 (as for a missing permission) when a token is used for an
    # app it was not issued for, existing or not; a token opens at least one thing of its app.
    response = env.post("/kintone-sync", env.access_form(kintone_app_id="999"))
    assert _kintone_error(response) == APP_ACCESS_999
    assert env.stored().kintone_fields is None
    response = env.post("/kintone-check", env.access_form(kintone_app_id="999"))
    assert _kintone_error(response, "kintone-check-error") == APP_ACCESS_999


def test_a_token_of_another_existing_app_is_explained_the_same_way(env):
    body = {"subdomain": SUBDOMAIN, "fields": {"t": {"type": "SINGLE_LINE_TEXT"}}}
    with requests.post(f"{env.kintone_url}/_sandbox/apps", json=body, timeout=10) as answer:
        other = answer.json()["app"]
    response = env.post("/kintone-sync", env.access_form(kintone_app_id=str(other)))
    assert _kintone_error(response) == APP_ACCESS_999.replace("999", str(other))


def test_kintone_unreachable_host_is_explained(env):
    env.app.config["KINTONE_BASE_URL_TEMPLATE"] = f"http://127.0.0.1:{free_port()}/{{subdomain}}"
    response = env.post("/kintone-sync", env.access_form())
    assert _kintone_error(response) == (
        "kintoneに接続できませんでした。「Step3. kintone連携設定」のkintoneサブドメイン名が"
        "正しいか確認し、時間を置いて再度実行してください。"
    )


def test_kintone_sync_and_check_name_the_missing_edit_permission(
    app, client, kintone_sandbox, haihai_sandbox
):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox, permissions=("view",))
    response = env.post("/kintone-sync", env.access_form())
    expected = (
        "kintone APIトークンに次のアクセス権がありません: 「レコード編集」。"
        "kintoneアプリの設定でAPIトークンの「レコード閲覧」と「レコード編集」にチェックを入れ、"
        "アプリを更新してください。"
    )
    assert _kintone_error(response, "kintone-permission-error") == expected
    # The fields were still read: a token without edit can be fixed later in kintone.
    assert env.stored().kintone_fields
    response = env.post("/kintone-check", env.access_form())
    assert _kintone_error(response, "kintone-check-error") == expected


def test_kintone_check_confirms_view_and_edit(env):
    response = env.post("/kintone-check", env.access_form())
    assert _kintone_error(response, "kintone-check-ok") == (
        "接続を確認しました。APIトークンに「レコード閲覧」「レコード編集」のアクセス権があります。"
    )
    assert env.stored().kintone_fields is None  # the check stores nothing


def test_sync_uses_the_stored_token_when_the_placeholder_is_posted(env):
    env.sync_both()
    response = env.post(
        "/kintone-sync", env.access_form(kintone_api_token="••••••••", haihai_api_token="x")
    )
    assert "kintone-sync-error" not in response.get_data(as_text=True)
    response = env.post("/haihai-sync", env.access_form(haihai_api_token="••••••••"))
    assert "haihai-sync-error" not in response.get_data(as_text=True)
    with env.app.app_context(), session_scope() as session:
        row = session.get(ConnectorSettings, env.connector_id)
        assert (row.kintone_api_token, row.haihai_api_token) == (KINTONE_TOKEN, HAIHAI_TOKEN)


# --- secrets are never rendered back ------------------------------------------------------------

TYPED_KINTONE = "TypedToken12345"
TYPED_HAIHAI = "typed-haihai-token-123"


@pytest.mark.parametrize("path", ["/kintone-sync", "/kintone-check", "/haihai-sync", ""])
def test_a_failed_sync_check_or_save_never_renders_a_typed_token(env, path):
    form = env.access_form(
        kintone_api_token=TYPED_KINTONE,
        haihai_api_token=TYPED_HAIHAI,
        kintone_app_id="999",  # fails kintone
        haihai_login_id="nobody",  # fails 配配メール
    )
    response = env.post(path, form)
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 422)
    assert TYPED_KINTONE not in html and TYPED_HAIHAI not in html
    token_inputs = re.findall(r'<input type="password"[^>]*>', html)
    assert token_inputs, "the answer re-renders no token field"
    for tag in token_inputs:
        assert re.search(r'value="(|••••••••)"', tag), tag
        assert "data-keep-typed" in tag


def test_a_refused_save_shows_the_placeholder_of_the_stored_token_not_the_typed_one(env):
    env.sync_both()
    form = env.valid_form(kintone_api_token=TYPED_KINTONE, haihai_url="not a url")
    response = env.post("", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert TYPED_KINTONE not in html and KINTONE_TOKEN not in html
    assert re.search(r'name="kintone_api_token"\s+value="••••••••"', html)


# --- a sync saves a consistent whole, and the page shows what is stored --------------------------


def test_haihai_sync_also_stores_the_synced_method_and_says_so(env):
    from tests.support.step5_env import is_checked

    assert env.stored().haihai_method == "manual"
    response = env.post("/haihai-sync", env.access_form(haihai_method="manual"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert env.stored().haihai_method == "synced"
    assert is_checked(html, "field-haihai_method-synced")
    assert not is_checked(html, "field-haihai_method-manual")
    assert "連携設定方法「配配メールから同期した内容から設定する」を保存しました。" in html
    page = env.page()  # a reload agrees
    assert is_checked(page, "field-haihai_method-synced")
    assert 'id="haihai-synced-at">最終同期日時: 未同期' not in page
    dialog = env.get("/mapping").get_data(as_text=True)
    # The dialog opens in the synced mode: the manual-only part 3. is absent.
    assert "配配メールの「メールアドレス」項目の表示名" not in dialog


def test_a_failed_sync_stores_nothing_and_keeps_what_was_posted(env):
    from tests.support.step5_env import is_checked

    form = env.access_form(haihai_method="synced", haihai_api_token="wrong-token")
    html = env.post("/haihai-sync", form).get_data(as_text=True)
    stored = env.stored()
    assert stored.haihai_method == "manual"
    assert not stored.haihai_url and stored.haihai_synced_at is None
    assert is_checked(html, "field-haihai_method-synced")  # the user's choice, still unsaved


def test_kintone_sync_shows_the_stored_connection_values(env):
    html = env.post("/kintone-sync", env.access_form()).get_data(as_text=True)
    assert "サブドメイン名・アプリID・APIトークンを保存しました。" in html
    assert re.search(r'name="kintone_api_token"\s+value="••••••••"', html)
