"""Re-sync after changes in kintone or 配配メール (manual 付録6.1 / 6.2, PRODUCT §4.1)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.models.settings import FieldMappingRow, ViewUrlSettingsRow
from portal.settings import messages as msg
from tests.support.settings_env import field_error, make_env, text_of

MAPPED = {
    "mapping-2-kintone": "company",
    "mapping-2-haihai_id": "I11",
    "mapping-3-kintone": "industry",
    "mapping-3-haihai_id": "I12",
    "mapping-4-kintone": "notes",
    "mapping-4-haihai_id": "I13",
}


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    """Synced and saved: 5 mappings and Step7 writing into 顧客ページ."""
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    env.sync_both()
    form = env.valid_form(**MAPPED, **{"view_url-timing": "manual", "view_url_target": "view_url"})
    response = env.post("", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return env


def _mapped_codes(env) -> list[str]:
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    return [m.kintone_code for m in config.mappings]


def _stored_rows(session, connector_id: str) -> list[FieldMappingRow]:
    query = (
        select(FieldMappingRow)
        .where(FieldMappingRow.connector_id == connector_id)
        .order_by(FieldMappingRow.position)
    )
    return list(session.exec(query).all())


def _dialog_rows(html: str) -> list[list[str]]:
    rows = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            rows.append([text_of(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)])
    return rows


# --- kintone ----------------------------------------------------------------------------------


def test_renamed_kintone_label_only_warns_and_every_display_follows(env):
    env.kintone_fields(update={"name": {"label": "お名前"}})
    response = env.post("/kintone-sync", env.access_form())
    html = response.get_data(as_text=True)
    assert msg.KINTONE_LABEL_RENAMED.format(old="氏名", new="お名前") in text_of(html)
    assert "kintone-sync-drift" not in html  # no removal, no 同期結果詳細
    assert _mapped_codes(env) == ["email", "name", "company", "industry", "notes"]
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert config.mappings[1].kintone_label == "お名前"
    # The Step4 section, re-rendered after the sync, shows the new label.
    section = text_of(env.get("/sections/step4").get_data(as_text=True))
    assert "お名前 文字列 (1行) 氏名" in section


@pytest.mark.parametrize(
    ("change", "code", "label", "reason"),
    [
        ({"delete": ["company"]}, "company", "会社名", msg.KINTONE_FIELD_DELETED),
        ({"update": {"notes": {"required": True}}}, "notes", "備考", msg.KINTONE_FIELD_CHANGED),
        ({"update": {"company": {"unique": True}}}, "company", "会社名", msg.KINTONE_FIELD_CHANGED),
        (
            {"update": {"notes": {"defaultValue": "特記事項なし"}}},
            "notes",
            "備考",
            msg.KINTONE_FIELD_CHANGED,
        ),
        (
            {"update": {"industry": {"options": {"製造業": {"label": "製造業", "index": "0"}}}}},
            "industry",
            "業種",
            msg.KINTONE_FIELD_CHANGED,
        ),
    ],
    ids=["deleted", "required", "unique", "default", "option_deleted"],
)
def test_breaking_kintone_change_removes_the_mapping_and_lists_it(env, change, code, label, reason):
    env.kintone_fields(**change)
    response = env.post("/kintone-sync", env.access_form())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert msg.KINTONE_DRIFT_HEADLINE in text_of(html)
    assert 'id="kintone-sync-result-button"' in html
    assert "同期結果詳細" in text_of(html)
    remaining = _mapped_codes(env)
    assert code not in remaining and len(remaining) == 4
    with env.app.app_context(), session_scope() as session:
        rows = _stored_rows(session, env.connector_id)
        assert [r.position for r in rows] == [0, 1, 2, 3]
    dialog = env.get("/kintone-sync/result").get_data(as_text=True)
    assert "kintone項目の同期 結果詳細" in dialog
    assert (
        "前回の同期タイミング以降に、kintone項目が変更されています。再度設定を確認してください。"
        in dialog
    )
    items = {"company": "会社名", "industry": "業種", "notes": "旧姓"}
    assert _dialog_rows(dialog) == [[label, items[code], reason]]
    assert "kintone項目名" in dialog and "配配メール項目名" in dialog and "エラー内容" in dialog


def test_added_fields_and_options_change_nothing(env):
    env.kintone_fields(
        add={"fax": {"type": "SINGLE_LINE_TEXT", "label": "FAX"}},
        update={
            "industry": {
                "options": {
                    "製造業": {"label": "製造業", "index": "0"},
                    "小売業": {"label": "小売業", "index": "1"},
                    "建設業": {"label": "建設業", "index": "2"},
                }
            }
        },
    )
    html = env.post("/kintone-sync", env.access_form()).get_data(as_text=True)
    assert "kintone-sync-drift" not in html
    assert _mapped_codes(env) == ["email", "name", "company", "industry", "notes"]
    assert "fax" in env.stored().kintone_fields


def test_deleted_step7_field_is_cleared_and_listed_under_its_setting(env):
    env.kintone_fields(delete=["view_url", "company"])
    env.post("/kintone-sync", env.access_form())
    with env.app.app_context(), session_scope() as session:
        row = session.get(ViewUrlSettingsRow, env.connector_id)
        assert row.target_field is None and row.timing == "manual"
        assert (
            load_connector_config(session, env.connector_id).section("step7").target_field is None
        )
    dialog = env.get("/kintone-sync/result").get_data(as_text=True)
    page = text_of(dialog)
    assert page.index("連携項目") < page.index("顧客閲覧URL連携")
    assert _dialog_rows(dialog) == [
        ["会社名", "会社名", msg.KINTONE_FIELD_DELETED],
        ["顧客ページ", msg.KINTONE_FIELD_DELETED],
    ]
    # Saving again now asks for a field, since the setting is still 手動実行.
    form = env.valid_form(**{"view_url-timing": "manual"})
    response = env.post("", form)
    assert field_error(response.get_data(as_text=True), "view_url_target") == (
        msg.VIEW_URL_FIELD_REQUIRED
    )


def test_the_report_survives_a_reload_until_the_next_sync(env):
    env.kintone_fields(delete=["company"])
    env.post("/kintone-sync", env.access_form())
    assert 'id="kintone-sync-result-button"' in env.page()
    env.post("/kintone-sync", env.access_form())  # nothing changed since
    assert 'id="kintone-sync-result-button"' not in env.page()
    assert _dialog_rows(env.get("/kintone-sync/result").get_data(as_text=True)) == []


# --- 配配メール ---------------------------------------------------------------------------------


def test_renamed_haihai_item_warns_and_the_mapping_follows(env):
    env.haihai_admin("PATCH", "/items/I10", {"label": "お名前"})
    html = env.post("/haihai-sync", env.access_form()).get_data(as_text=True)
    assert "配配メールの項目「氏名」の表示名が「お名前」に変更されました。" in text_of(html)
    assert "haihai-sync-drift" not in html
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert [m.haihai_item for m in config.mappings][1] == "お名前"


def test_deleted_haihai_item_clears_the_selection_and_lists_it(env):
    env.haihai_admin("DELETE", "/items/I13")
    html = env.post("/haihai-sync", env.access_form()).get_data(as_text=True)
    assert msg.HAIHAI_DRIFT_HEADLINE in text_of(html)
    assert 'id="haihai-sync-result-button"' in html
    with env.app.app_context(), session_scope() as session:
        rows = _stored_rows(session, env.connector_id)
        assert [(r.kintone_code, r.haihai_item) for r in rows][-1] == ("notes", "")
        config = load_connector_config(session, env.connector_id)
    # A cleared row is not sent until an item is chosen again.
    assert [m.kintone_code for m in config.mappings] == ["email", "name", "company", "industry"]
    dialog = env.get("/haihai-sync/result").get_data(as_text=True)
    assert "配配メール設定の同期 結果詳細" in dialog
    assert (
        "前回の同期タイミング以降に、配配メールの設定が変更されています。"
        "再度配配メールコネクタの設定を確認してください。"
    ) in dialog
    assert _dialog_rows(dialog) == [
        [
            "備考",
            "旧姓",
            "配配メールから項目が削除されているため、連携先配配メール項目の指定がクリアされました。",
        ]
    ]
    # The page shows the cleared row, and saving asks for an item.
    section = env.get("/sections/step4").get_data(as_text=True)
    assert "（未設定）" in text_of(section)
    form = env.valid_form(**{**MAPPED, "mapping-4-haihai_id": ""})
    response = env.post("", form)
    assert field_error(response.get_data(as_text=True), "mapping-4-haihai") == (
        msg.HAIHAI_ITEM_REQUIRED_SYNCED
    )
