"""Step4 「連携項目の設定」 dialog: email first, 付録1.1 types, one-to-one, ×, manual vs synced."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.settings import messages as msg
from tests.support.settings_env import field_error, make_env, text_of


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    env.sync_both()
    return env


def _options(html: str, name: str) -> list[str]:
    """Values of the <option>s of select `name` (empty value left out)."""
    match = re.search(r'<select name="' + re.escape(name) + r'".*?</select>', html, re.S)
    assert match, name
    return [v for v in re.findall(r'<option value="([^"]*)"', match.group(0)) if v]


def _option_texts(html: str, name: str) -> list[str]:
    match = re.search(r'<select name="' + re.escape(name) + r'".*?</select>', html, re.S)
    assert match, name
    return [
        unescape(t).strip() for t in re.findall(r"<option[^>]*>([^<]*)</option>", match.group(0))
    ]


def _dialog(env, data: dict) -> str:
    response = env.post("/mapping", data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(html: str) -> list[str]:
    return re.findall(r'name="mapping-\d+-kintone" value="([^"]*)"', html)


def test_dialog_offers_only_email_capable_fields_until_the_email_row_exists(env):
    response = env.get("/mapping", query_string={"haihai_method": "synced"})
    html = response.get_data(as_text=True)
    assert "data-autoshow" in html and "連携項目の設定" in html
    page = text_of(html)
    assert "1. kintone項目の選択" in page and "(設定する項目)" in page and "+ 追加" in page
    assert "閉じる" in page
    assert _options(html, "new_field") == ["email", "name", "company", "homepage", "view_url"]
    assert _option_texts(html, "new_field")[1] == "メールアドレス（文字列 (1行)）"


def test_adding_a_non_text_field_first_is_refused(env):
    html = _dialog(env, {"haihai_method": "synced", "action": "add", "new_field": "industry"})
    assert field_error(html, "new_field") == msg.EMAIL_FIELD_TYPE
    assert _rows(html) == []
    html = _dialog(env, {"haihai_method": "synced", "action": "add", "new_field": ""})
    assert field_error(html, "new_field") == msg.CHOOSE_FIELD_TO_ADD


def test_synced_rows_select_items_with_the_email_item_first(env):
    html = _dialog(env, {"haihai_method": "synced", "action": "add", "new_field": "email"})
    assert _rows(html) == ["email"]
    page = text_of(html)
    assert "推奨" not in page  # the email row goes to the email item, whatever its kintone type
    assert "2. 配配メール項目の選択" in page
    assert "文字列 (1行)" in page  # the kintone type next to the field
    email_select = _options(html, "mapping-0-haihai_id")
    assert len(email_select) == 1  # only 配配メール's own 「メールアドレス」 item
    assert f'<option value="{email_select[0]}" selected>' in html
    # After the email row every mappable type of 付録1.1 is offered; FILE is not.
    addable = _options(html, "new_field")
    assert "attachment" not in addable and "email" not in addable
    for code in ("name", "notes", "employees", "industry", "interests", "contacted"):
        assert code in addable
    assert {"レコード番号", "作成日時", "更新日時", "作成者", "更新者"} <= set(addable)
    assert "ステータス" not in addable  # process management is off in this app

    state = {
        "haihai_method": "synced",
        "mapping-0-kintone": "email",
        "mapping-0-haihai_id": email_select[0],
        "action": "add",
        "new_field": "company",
    }
    html = _dialog(env, state)
    assert _rows(html) == ["email", "company"]
    # Same label on both sides: the 配配メール item is preselected.
    assert '<option value="I11" selected>' in html
    assert "I1" not in _options(html, "mapping-1-haihai_id")  # email item not offered again
    assert text_of(html).count("推奨: テキストボックス") == 1  # the 会社名 row only


def test_manual_rows_are_text_inputs_prefilled_with_the_email_display_name(env):
    html = _dialog(env, {"haihai_method": "manual", "action": "add", "new_field": "email"})
    page = text_of(html)
    assert "2. 配配メール項目名の設定" in page
    assert 'name="mapping-0-haihai" value="メールアドレス" class="form-control' in html
    assert "3. 配配メールの「メールアドレス」項目の表示名" in page
    assert "配配メールの「メールアドレス」項目の表示名をデフォルトから変更する" in page
    assert "変更後の表示名" in page
    # Hidden until 「…デフォルトから変更する」 is ticked (portal.js shows it on the tick).
    assert '<div class="mt-2 d-none" id="mapping-email-display-name-group">' in html
    assert 'data-toggle-visible="#mapping-email-display-name-group"' in html
    ticked = _dialog(
        env,
        {
            "haihai_method": "manual",
            "mapping-0-kintone": "email",
            "mapping-0-haihai": "メールアドレス",
            "email_custom": "1",
            "action": "refresh",
        },
    )
    assert '<div class="mt-2" id="mapping-email-display-name-group">' in ticked
    # The synced-only select is not used in the manual method.
    assert 'name="mapping-0-haihai_id"' not in html


def test_x_removes_a_row_but_not_the_email_row_while_others_remain(env):
    base = {
        "haihai_method": "manual",
        "mapping-0-kintone": "email",
        "mapping-0-haihai": "メールアドレス",
        "mapping-1-kintone": "name",
        "mapping-1-haihai": "氏名",
        "mapping-2-kintone": "company",
        "mapping-2-haihai": "会社名",
    }
    html = _dialog(env, {**base, "action": "remove", "index": "1"})
    assert _rows(html) == ["email", "company"]
    assert 'name="mapping-1-haihai" value="会社名"' in html  # rows renumbered, values kept
    html = _dialog(env, {**base, "action": "remove", "index": "0"})
    assert field_error(html, "mapping") == msg.EMAIL_ROW_NOT_REMOVABLE
    assert _rows(html) == ["email", "name", "company"]
    html = _dialog(
        env,
        {
            "haihai_method": "manual",
            "mapping-0-kintone": "email",
            "mapping-0-haihai": "メールアドレス",
            "action": "remove",
            "index": "0",
        },
    )
    assert _rows(html) == []


def test_one_kintone_field_and_one_haihai_item_each_map_once(env):
    twice_item = {
        "haihai_method": "manual",
        "mapping-0-kintone": "email",
        "mapping-0-haihai": "メールアドレス",
        "mapping-1-kintone": "name",
        "mapping-1-haihai": "氏名",
        "mapping-2-kintone": "company",
        "mapping-2-haihai": "氏名",
    }
    response = env.post("/mapping/apply", twice_item)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "mapping-2-haihai") == (
        "複数のkintone項目を、同一の配配メール項目へ連携することはできません。"
    )
    twice_field = {**twice_item, "mapping-2-kintone": "name", "mapping-2-haihai": "会社名"}
    response = env.post("/mapping/apply", twice_field)
    assert field_error(response.get_data(as_text=True), "mapping-2-kintone") == (
        "1つのkintone項目を、複数の配配メール項目へ連携することはできません。"
    )
    html = _dialog(env, {**twice_item, "action": "add", "new_field": "name"})
    assert field_error(html, "new_field") == msg.ONE_KINTONE_TO_MANY


def test_synced_items_must_exist_and_email_goes_to_the_email_item(env):
    email_id = env.email_item_id()
    response = env.post(
        "/mapping/apply",
        {
            "haihai_method": "synced",
            "mapping-0-kintone": "email",
            "mapping-0-haihai_id": "I10",
            "mapping-1-kintone": "name",
            "mapping-1-haihai_id": email_id,
            "mapping-2-kintone": "company",
            "mapping-2-haihai_id": "I404",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "mapping-0-haihai") == msg.EMAIL_ITEM_SYNCED
    assert field_error(html, "mapping-1-haihai") == msg.NOT_EMAIL_ITEM_SYNCED
    assert field_error(html, "mapping-2-haihai") == msg.HAIHAI_ITEM_REQUIRED_SYNCED


def test_renamed_email_display_name_must_match_the_email_row(env):
    form = {
        "haihai_method": "manual",
        "mapping-0-kintone": "email",
        "mapping-0-haihai": "メールアドレス",
        "email_custom": "1",
        "email_display_name": "Eメール",
    }
    response = env.post("/mapping/apply", form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "mapping-0-haihai") == (
        msg.EMAIL_NAME_MISMATCH.format(name="Eメール")
    )
    response = env.post("/mapping/apply", {**form, "email_display_name": ""})
    assert field_error(response.get_data(as_text=True), "email_display_name") == msg.REQUIRED
    response = env.post("/mapping/apply", {**form, "mapping-0-haihai": "Eメール"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="email_custom" value="1"' in html
    assert 'name="email_display_name" value="Eメール"' in html


def test_closing_the_dialog_puts_the_rows_on_the_page(env):
    response = env.post(
        "/mapping/apply",
        {
            "haihai_method": "synced",
            "mapping-0-kintone": "email",
            "mapping-0-haihai_id": env.email_item_id(),
            "mapping-1-kintone": "industry",
            "mapping-1-haihai_id": "I12",
        },
    )
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#step4-mapping"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "settingsCloseModal" in response.headers["HX-Trigger"]
    html = response.get_data(as_text=True)
    assert 'name="mapping-1-kintone" value="industry"' in html
    assert 'name="mapping-1-haihai" value="業種"' in html
    summary = text_of(html)
    assert "業種 ドロップダウン 業種" in summary
    assert "メールアドレス 文字列 (1行) メールアドレス" in summary


def test_saved_mapping_is_summarised_on_the_page_and_in_the_config(env):
    form = env.valid_form(
        **{"mapping-2-kintone": "interests", "mapping-2-haihai": "", "mapping-2-haihai_id": "I12"}
    )
    # 関心 (チェックボックス) → 業種 (セレクトボックス) is allowed: the types are a recommendation.
    response = env.post("", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    summary = text_of(env.page())
    assert "氏名 文字列 (1行) 氏名" in summary
    assert "関心 チェックボックス 業種" in summary
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert [m.haihai_item for m in config.mappings] == ["メールアドレス", "氏名", "業種"]
    assert config.mappings[2].kintone_type == "CHECK_BOX"
    # Reopening the dialog with the page's rows shows the same rows.
    html = env.get(
        "/mapping",
        query_string={
            "haihai_method": "synced",
            "mapping-0-kintone": "email",
            "mapping-0-haihai_id": env.email_item_id(),
            "mapping-1-kintone": "name",
            "mapping-1-haihai_id": "I10",
        },
    ).get_data(as_text=True)
    assert _rows(html) == ["email", "name"]


def test_manual_method_saves_typed_names_and_the_renamed_email_item(env):
    form = env.access_form(haihai_method="manual")
    form.update(
        {
            "mapping-0-kintone": "email",
            "mapping-0-haihai": "Eメール",
            "mapping-1-kintone": "employees",
            "mapping-1-haihai": "従業員数（手入力）",
            "email_custom": "1",
            "email_display_name": "Eメール",
        }
    )
    response = env.post("", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert config.email_display_name == "Eメール"
    assert [(m.kintone_code, m.haihai_item) for m in config.mappings] == [
        ("email", "Eメール"),
        ("employees", "従業員数（手入力）"),
    ]
    assert "配配メールの「メールアドレス」項目の表示名: Eメール" in text_of(env.page())


def test_save_without_the_email_row_is_refused(env):
    response = env.post("", env.access_form())
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "mapping") == msg.EMAIL_FIRST
    form = env.valid_form(**{"mapping-0-kintone": "notes"})
    response = env.post("", form)
    assert field_error(response.get_data(as_text=True), "mapping-0-kintone") == (
        msg.EMAIL_FIELD_TYPE
    )
    form = env.valid_form(**{"mapping-1-kintone": "attachment"})
    response = env.post("", form)
    assert field_error(response.get_data(as_text=True), "mapping-1-kintone") == (
        msg.KINTONE_FIELD_UNKNOWN.format(name="attachment")
    )
