"""Step8 顧客反応履歴情報取込連携: the section, its app, 連携種別, 連携項目, drift and the checks."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from portal.connector_types.haihai_kintone.event_import.fields import REACTION_FIELDS
from portal.connector_types.haihai_kintone.reaction.config import reaction_setting
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.models.event_imports import EventImportSettings
from portal.runs.service import schedules_of
from portal.settings import messages as msg
from portal.syncs.config import ScheduleSpec
from tests.support.event_env import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    add_admin_user,
    app_token,
    create_event_app,
    reaction_form,
)
from tests.support.settings_env import SUBDOMAIN, field_error, make_env, text_of


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    env.sync_both()
    env.post("", env.valid_form())  # Step3's subdomain is stored
    return env


def _reaction_app(env, **kwargs) -> str:
    return create_event_app(env.kintone_url, SUBDOMAIN, "reaction", **kwargs)[0]


def _sync_app(env, app_id: str, **extra):
    return env.post("/events/reaction/app-sync", reaction_form(app_id, **extra))


def _save(env, app_id: str, **values):
    form = env.valid_form()
    form.update(reaction_form(app_id, **values))
    return env.post("", form)


def _config(env):
    with env.app.app_context(), session_scope() as session:
        return load_connector_config(session, env.connector_id)


def test_page_shows_step8_with_template_download_and_the_manual_labels(env):
    html = env.page()
    text = text_of(html)
    assert "Step8. 顧客反応履歴情報取込連携" in text
    assert "メール開封、URLクリック、Web来訪、CV、添付ダウンロード" in text
    assert "以下のボタンをクリックし、kintoneテンプレートをダウンロードしてください。" in text
    for label in ("メール開封", "URLクリック", "Web来訪", "CV", "添付ダウンロード"):
        assert label in text
    # Only connectors flagged as created before 2024-06 offer the legacy method.
    assert 'value="legacy"' not in html
    assert 'id="reaction-template-download"' in html


def test_sync_stores_the_app_and_saving_stores_the_setting_with_a_daily_schedule(env):
    app_id = _reaction_app(env)
    response = _sync_app(env, app_id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "kintone項目を同期しました（" in html and 'id="reaction-app-problems"' not in html
    schedule = {
        "reaction-timing": "schedule",
        "reaction-interval": "daily",
        "reaction-hours": ["6", "18"],
        "reaction-minute": "15",
    }
    response = _save(env, app_id, **schedule)
    assert response.status_code == 200, response.get_data(as_text=True)
    setting = reaction_setting(_config(env))
    assert setting.timing == "schedule"
    assert setting.schedule == ScheduleSpec(interval="daily", hours=(6, 18), minutes=(15,))
    assert setting.types == ("open", "click") and setting.method == "full"
    assert setting.app.app_id == app_id and setting.app.api_token == app_token("reaction", app_id)
    assert setting.app.subdomain == SUBDOMAIN
    with env.app.app_context(), session_scope() as session:
        assert schedules_of(session, env.connector_id)["reaction"].hours == (6, 18)


def test_saving_requires_types_a_synced_app_and_a_complete_app(env):
    app_id = _reaction_app(env)
    response = _save(env, app_id, reaction_types=[])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "reaction_sync") == "「kintone項目の同期」を行ってください。"
    assert field_error(html, "reaction_types") == "連携種別を1つ以上選択してください。"

    broken = _reaction_app(env, without=("RH01RecordDatetime2", "RH01TagName"))
    html = _sync_app(env, broken).get_data(as_text=True)
    problems = text_of(re.search(r'id="reaction-app-problems".*?</div>', html, re.S).group(0))
    assert (
        "フィールド「日時(日時型)」（フィールドコード: RH01RecordDatetime2、日時）がありません。"
        in problems
    )
    assert "RH01TagName" in problems
    response = _save(env, broken)
    assert response.status_code == 422
    assert "必要なフィールドがありません" in field_error(
        response.get_data(as_text=True), "reaction_sync"
    )

    # A later app ID than the synced one asks for a new sync.
    response = _save(env, app_id)
    assert field_error(response.get_data(as_text=True), "reaction_sync") == (
        "kintone アプリIDが変更されています。「kintone項目の同期」を行ってください。"
    )
    with env.app.app_context(), session_scope() as session:
        row = session.get(EventImportSettings, (env.connector_id, "reaction"))
        assert row.timing == "off"  # nothing of the refused saves was stored


def test_a_token_without_record_add_is_reported_after_the_sync(env):
    token = "ViewOnlyToken000000000000000000000000001"
    app_id = _reaction_app(env, token=token, permissions=("view",))
    form = reaction_form(app_id, token)
    html = env.post("/events/reaction/app-sync", form).get_data(as_text=True)
    error = text_of(
        re.search(r'id="reaction-permission-error"[^>]*>(.*?)</div>', html, re.S).group(1)
    )
    assert error == (
        "kintone APIトークンに次のアクセス権がありません: 「レコード追加」。"
        "kintoneアプリの設定でAPIトークンの「レコード閲覧」と「レコード追加」にチェックを入れ、"
        "アプリを更新してください。"
    )


def test_a_wrong_app_id_is_reported_as_such_not_as_missing_permissions(env):
    app_id = _reaction_app(env)
    token = reaction_form(app_id)["reaction_api_token"]
    html = env.post("/events/reaction/app-sync", reaction_form("999", token)).get_data(as_text=True)
    error = text_of(re.search(r'id="reaction-sync-error"[^>]*>(.*?)</div>', html, re.S).group(1))
    assert error.startswith(
        "このkintone APIトークンでは、kintoneアプリ（アプリID: 999）にアクセスできません。"
        "アプリIDのアプリが存在しないか、APIトークンがこのアプリで発行されたものではありません。"
    )


def test_full_method_asks_for_the_haihai_sync_first(app, client, kintone_sandbox, haihai_sandbox):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    html = env.page()
    assert "⚠ 配配メール設定の同期を行ってください。" in text_of(html)
    env.sync_both()
    assert "⚠ 配配メール設定の同期を行ってください。" not in text_of(env.page())


def test_legacy_method_is_offered_only_to_flagged_connectors_and_drops_item_mappings(env):
    with env.app.app_context(), session_scope() as session:
        session.add(
            EventImportSettings(
                connector_id=env.connector_id, role="reaction", legacy_method_allowed=True
            )
        )
    html = env.page()
    assert 'value="legacy"' in html and "メール開封、URLクリック" in text_of(html)
    app_id = _reaction_app(env, legacy=True)
    assert _sync_app(env, app_id, reaction_method="legacy").status_code == 200
    response = _save(
        env,
        app_id,
        reaction_method="legacy",
        reaction_types=["open", "visit"],
    )
    assert field_error(response.get_data(as_text=True), "reaction_types") == (
        "「メール開封、URLクリック」の連携方式では、メール開封とURLクリックのみ連携できます。"
    )
    response = _save(
        env,
        app_id,
        reaction_method="legacy",
        **{"reaction_map-0-kintone": "RH01MailAddress", "reaction_map-0-haihai_id": "I10"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    setting = reaction_setting(_config(env))
    assert setting.method == "legacy" and setting.mappings == ()


def test_mapping_dialog_adds_database_items_and_refuses_fixed_fields(env):
    extra = {
        "company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"},
        "industry": {
            "type": "DROP_DOWN",
            "label": "業種",
            "options": {
                "製造業": {"label": "製造業", "index": "0"},
                "小売業": {"label": "小売業", "index": "1"},
            },
        },
        "photo": {"type": "FILE", "label": "写真"},
    }
    app_id = _reaction_app(env, extra=extra)
    _sync_app(env, app_id)
    dialog = env.get("/events/reaction/mapping").get_data(as_text=True)
    choices = re.search(r'<select name="new_field".*?</select>', dialog, re.S).group(0)
    assert "会社名（文字列 (1行)）" in text_of(choices) and "写真" not in choices
    assert "RH01MailAddress" not in choices  # fixed fields are not offered
    assert "メールアドレス" in text_of(dialog)  # … but listed as fixed rows

    added = env.post(
        "/events/reaction/mapping", {"action": "add", "new_field": "company"}
    ).get_data(as_text=True)
    # The same-named 配配メール item is preselected.
    assert re.search(r'<option value="I11" selected>会社名</option>', added)
    refused = env.post(
        "/events/reaction/mapping",
        {"action": "add", "new_field": "RH01Detail", "reaction_map-0-kintone": "company"},
    ).get_data(as_text=True)
    assert (
        field_error(refused, "new_field")
        == "kintone項目「内容」は固定で連携される項目のため、設定できません。"
    )

    two_to_one = {
        "reaction_map-0-kintone": "company",
        "reaction_map-0-haihai_id": "I11",
        "reaction_map-1-kintone": "industry",
        "reaction_map-1-haihai_id": "I11",
    }
    response = env.post("/events/reaction/mapping/apply", two_to_one)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "reaction_map-1-haihai_id") == (
        "1つの配配メールの項目を、複数のkintoneの項目へ連携することはできません。"
    )
    fine = {**two_to_one, "reaction_map-1-haihai_id": "I12"}
    response = env.post("/events/reaction/mapping/apply", fine)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#reaction-mapping"
    response = _save(env, app_id, **fine)
    assert response.status_code == 200, response.get_data(as_text=True)
    mappings = reaction_setting(_config(env)).mappings
    assert [(m.kintone_code, m.kintone_type, m.haihai_item) for m in mappings] == [
        ("company", "SINGLE_LINE_TEXT", "会社名"),
        ("industry", "DROP_DOWN", "業種"),
    ]


def test_resync_after_drift_removes_broken_mappings_and_names_lost_fixed_fields(env):
    extra = {"company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"}}
    app_id = _reaction_app(env, extra=extra)
    _sync_app(env, app_id)
    mapped = {"reaction_map-0-kintone": "company", "reaction_map-0-haihai_id": "I11"}
    assert _save(env, app_id, **mapped).status_code == 200
    body = {"subdomain": SUBDOMAIN, "app": app_id, "delete": ["company", "RH01MailId"]}
    import requests

    with requests.post(f"{env.kintone_url}/_sandbox/fields", json=body, timeout=10) as r:
        assert r.status_code == 200, r.text
    html = _sync_app(env, app_id, **mapped).get_data(as_text=True)
    assert msg.KINTONE_DRIFT_HEADLINE in text_of(html)
    assert "フィールド「メールID」（フィールドコード: RH01MailId、数値）がありません。" in text_of(
        html
    )
    assert reaction_setting(_config(env)).mappings == ()
    dialog = env.get("/events/reaction/app-sync/result").get_data(as_text=True)
    assert "顧客反応履歴情報取込連携" in text_of(dialog)
    assert (
        "会社名 会社名 kintoneから項目が削除されているため、コネクタ設定から削除されました。"
        in text_of(dialog)
    )


def test_check_app_names_every_missing_or_wrong_field(env):
    app_id = _reaction_app(
        env,
        without=("RH01ClickURL",),
        extra={
            "RH01MailId": {"type": "SINGLE_LINE_TEXT", "label": "メールID"},
            "note": {"type": "SINGLE_LINE_TEXT", "label": "備考", "required": True},
        },
    )
    form = reaction_form(app_id)
    html = env.post("/events/reaction/app-check", form).get_data(as_text=True)
    block = re.search(r'id="reaction-check-problems".*?</div>', html, re.S).group(0)
    kinds = dict(re.findall(r'data-field-code="([^"]+)" data-kind="([^"]+)"', block))
    assert kinds == {"RH01MailId": "type", "RH01ClickURL": "missing", "note": "other_required"}
    assert (
        "フィールド「メールID」（フィールドコード: RH01MailId）のフィールドの種類が文字列 (1行)になっています。数値のフィールドにしてください。"
        in text_of(block)
    )

    complete = _reaction_app(env)
    html = env.post("/events/reaction/app-check", reaction_form(complete)).get_data(as_text=True)
    assert "連携に必要なフィールドがすべて正しく設定されています。" in text_of(html)


def test_template_download_holds_the_exact_field_definitions(env):
    response = env.client.get(env.base + "/events/reaction/template.zip")
    assert response.status_code == 200
    assert (
        'filename="HaihaiConnect_kintone_template.zip"' in response.headers["Content-Disposition"]
    )
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names == ["README.txt", "配配メールコネクタ_顧客反応履歴取込連携アプリ/fields.json"]
    definition = json.loads(archive.read(names[1]))
    properties = definition["properties"]
    assert list(properties) == [f.code for f in REACTION_FIELDS]
    assert properties["RH01RecordDatetime2"]["type"] == "DATETIME"
    assert properties["RH01MailAddress"] == {
        "type": "LINK",
        "code": "RH01MailAddress",
        "label": "メールアドレス",
        "noLabel": False,
        "required": False,
        "unique": False,
        "protocol": "MAIL",
    }
    readme = archive.read("README.txt").decode("utf-8")
    assert (
        "「レコード閲覧」と" in readme
        and "RH01RecordLastUpdateDate / 管理_配配メールコネクタ連携日時" in readme
    )
    # The same bytes every time (no timestamps of the moment).
    assert env.client.get(env.base + "/events/reaction/template.zip").data == response.data


def test_create_app_builds_the_app_through_the_rest_api_and_never_stores_the_login(env):
    add_admin_user(env.kintone_url, SUBDOMAIN)
    dialog = env.get("/events/reaction/app-create").get_data(as_text=True)
    assert "kintoneアプリを作成" in text_of(dialog)
    refused = env.post(
        "/events/reaction/app-create",
        {"create_app_name": "反応履歴", "create_login": ADMIN_LOGIN, "create_password": "wrong"},
    )
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "create") == (
        "kintoneのログイン名またはパスワードが正しくありません。"
    )
    response = env.post(
        "/events/reaction/app-create",
        {
            **reaction_form(),
            "create_app_name": "反応履歴",
            "create_login": ADMIN_LOGIN,
            "create_password": ADMIN_PASSWORD,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#section-step8"
    app_id = re.search(r"アプリID: (\d+)", text_of(html)).group(1)
    assert re.search(rf'name="reaction_app_id"\s+value="{app_id}"', html)
    import requests

    with requests.get(
        f"{env.kintone_url}/_sandbox/records",
        params={"subdomain": SUBDOMAIN, "app": app_id},
        timeout=10,
    ) as r:
        assert r.status_code == 200  # the app exists and is live
    from portal.integrations.kintone import KintoneClient

    with KintoneClient(
        f"{env.kintone_url}/{SUBDOMAIN}", username=ADMIN_LOGIN, password=ADMIN_PASSWORD
    ) as kintone:
        fields = kintone.get_form_fields(int(app_id))
    for fixed in REACTION_FIELDS:
        assert (
            fields[fixed.code]["type"] == fixed.type and fields[fixed.code]["label"] == fixed.label
        )
    stored = env.stored()
    assert ADMIN_PASSWORD not in json.dumps(stored.model_dump(), default=str)
