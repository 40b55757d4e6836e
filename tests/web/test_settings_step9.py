"""Step9 Bridgeフォーム連携: plan gating, timing variants, フォーム選択, the app, drift."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from portal.connector_types.haihai_kintone.bridge.config import (
    MSG_NEEDS_BRIDGE_PLAN,
    MSG_NEEDS_SYNC,
    bridge_setting,
)
from portal.connector_types.haihai_kintone.event_import.fields import BRIDGE_FIELDS
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.runs.service import schedules_of
from portal.syncs.config import ScheduleSpec
from tests.support.event_env import (
    FORMS,
    bridge_form,
    create_event_app,
    make_bridge_env,
)
from tests.support.settings_env import SUBDOMAIN, field_error, make_env, text_of


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    return make_env(app, client, kintone_sandbox, haihai_sandbox)


def _config(env):
    with env.app.app_context(), session_scope() as session:
        return load_connector_config(session, env.connector_id)


def _save(env, app_id: str, **values):
    form = env.valid_form()
    form.update(bridge_form(app_id, **values))
    return env.post("", form)


def test_step9_is_disabled_with_the_reason_until_synced_and_on_the_bridge_plan(env):
    html = env.page()
    assert MSG_NEEDS_SYNC in text_of(html)
    assert 'name="bridge-timing"' not in html  # nothing to post while unavailable
    env.sync_both()
    env.post("", env.valid_form())
    html = env.page()
    assert MSG_NEEDS_BRIDGE_PLAN in text_of(html)  # the test account is on the Standard plan
    # The 実行 page lists Bridgeフォーム連携 with a disabled button.
    run_page = env.client.get(f"/connectors/{env.connector_id}/run").get_data(as_text=True)
    row = re.search(r'data-process-key="bridge".*?</tr>', run_page, re.S).group(0)
    assert re.search(r"<button[^>]*disabled[^>]*>実行する</button>", row)


def test_bridge_plan_offers_timing_variants_forms_and_saves_a_30_minute_schedule(env):
    bridge = make_bridge_env(env)
    html = env.page()
    section = re.search(r'id="section-step9".*?</section>', html, re.S).group(0)
    text = text_of(section)
    for label in ("フォーム選択 (複数選択)", "すべて", "個別に選択する", "kintoneテンプレート"):
        assert label in text
    assert "お問い合わせフォーム" in text and "資料ダウンロードフォーム" in text
    response = _save(
        env,
        bridge.app_id,
        **{
            "bridge-timing": "schedule",
            "bridge-interval": "every_30_minutes",
            "bridge-minute": "10",
            "bridge_form_mode": "selected",
            "bridge_forms": ["102"],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    setting = bridge_setting(_config(env))
    assert setting.schedule == ScheduleSpec(interval="every_30_minutes", minutes=(10, 40))
    assert (setting.form_mode, setting.form_ids) == ("selected", ("102",))
    with env.app.app_context(), session_scope() as session:
        assert schedules_of(session, env.connector_id)["bridge"].minutes == (10, 40)
    editor = re.search(r'<select[^>]*name="bridge-interval".*?</select>', env.page(), re.S).group(0)
    assert [text_of(o).strip() for o in re.findall(r"<option[^>]*>[^<]*</option>", editor)] == [
        "毎日",
        "毎時",
        "30分毎",
    ]
    hourly = _save(
        env,
        bridge.app_id,
        **{"bridge-timing": "schedule", "bridge-interval": "hourly", "bridge-minute": "0"},
    )
    assert hourly.status_code == 200
    assert bridge_setting(_config(env)).schedule == ScheduleSpec(interval="hourly", minutes=(0,))


def test_selecting_no_form_is_refused(env):
    bridge = make_bridge_env(env)
    response = _save(env, bridge.app_id, bridge_form_mode="selected")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "bridge_forms") == (
        "連携するフォームを1つ以上選択してください。"
    )


def test_a_form_deleted_in_haihai_is_cleared_and_listed_after_the_resync(env):
    bridge = make_bridge_env(env)
    assert (
        _save(
            env, bridge.app_id, bridge_form_mode="selected", bridge_forms=["101", "102"]
        ).status_code
        == 200
    )
    env.haihai_admin("DELETE", "/forms/101")
    response = env.post("/haihai-sync", env.access_form())
    assert response.status_code == 200
    assert bridge_setting(_config(env)).form_ids == ("102",)
    dialog = env.get("/haihai-sync/result").get_data(as_text=True)
    assert "Bridgeフォーム連携 フォーム選択" in text_of(dialog)
    assert (
        "お問い合わせフォーム 101 配配メールからフォームが削除されているため、"
        "Bridgeフォーム連携のフォームの指定がクリアされました。"
    ) in text_of(dialog)


def test_bridge_app_needs_its_fixed_fields_and_the_template_lists_them(env):
    make_bridge_env(env)
    broken, token = create_event_app(
        env.kintone_url, SUBDOMAIN, "bridge", without=("RH01AnswerId",)
    )
    html = env.post("/events/bridge/app-sync", bridge_form(broken)).get_data(as_text=True)
    assert "フィールド「回答ID」（フィールドコード: RH01AnswerId、数値）がありません。" in text_of(
        html
    )
    response = env.client.get(env.base + "/events/bridge/template.zip")
    assert (
        'filename="HaihaiConnect_kintone_customer_inquiry_template.zip"'
        in response.headers["Content-Disposition"]
    )
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    definition = json.loads(archive.read("配配メールコネクタ_Bridgeフォーム連携アプリ/fields.json"))
    assert [(c, p["type"]) for c, p in definition["properties"].items()] == [
        (f.code, f.type) for f in BRIDGE_FIELDS
    ]
    assert definition["properties"]["RH01AnswerDateTime"]["type"] == "DATETIME"
    assert FORMS[0]["form_name"] == "お問い合わせフォーム"
