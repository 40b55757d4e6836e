"""Step6 配信停止/禁止顧客一覧連携: the section, the dialog 「連携項目の設定」, 保存 and drift."""

from __future__ import annotations

import re

import pytest

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_SAME,
    MODE_SEPARATE,
    MODE_STOP,
    FieldRule,
)
from portal.connector_types.haihai_kintone.stop_ban.form import (
    MSG_CHOOSE_VALUE,
    MSG_FIELD,
    MSG_NUMBER,
    MSG_RULES_NEEDED,
    MSG_SAME_FIELD,
    MSG_TEMPORAL_REQUIRED,
    MSG_UNSELECTED_MIXED,
    UNSELECTED,
)
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.demo_fixtures import choice_field_options
from portal.models.stop_ban import StopBanSettingsRow
from portal.runs.service import schedules_of
from portal.settings import messages as msg
from portal.syncs.config import ScheduleSpec
from tests.support.settings_env import customer_fields, field_error, make_env, text_of

DAILY_NOTE = (
    "1日に実行可能な連携回数は最大10回までとなります。"
    "超過した場合は、連携エラーとなりますのでご注意ください。"
)


def step6_fields() -> dict:
    """The settings tests' app plus fields of every 付録2.2 type for Step6."""
    return {
        **customer_fields(),
        "stop_state": {
            "type": "DROP_DOWN",
            "label": "配信停止",
            "options": choice_field_options(("配信停止", "配信停止ではない")),
        },
        "ban_state": {
            "type": "RADIO_BUTTON",
            "label": "配信禁止",
            "options": choice_field_options(("配信禁止", "配信禁止ではない")),
        },
        "tags": {
            "type": "MULTI_SELECT",
            "label": "タグ",
            "options": choice_field_options(("停止", "禁止", "確認済み")),
        },
        "stopped_at": {"type": "DATETIME", "label": "停止日時"},
        "must_date": {"type": "DATE", "label": "必須日付", "required": True},
        "required_state": {
            "type": "DROP_DOWN",
            "label": "必須状態",
            "required": True,
            "options": choice_field_options(("有効", "無効")),
        },
    }


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox, fields=step6_fields())
    env.sync_both()
    return env


def step6(mode: str = MODE_SEPARATE, timing: str = "manual", **rules: object) -> dict:
    """Step6's part of the page form: timing, 連携種別 and the rules' hidden inputs."""
    form: dict[str, object] = {
        "mapping-0-kintone": "email",  # Step4's mail-address row, as the page posts it
        "stop_ban_present": "1",
        "stop_ban-timing": timing,
        "stop_ban_mode": mode,
    }
    for key, value in rules.items():
        rule, part = key.split("__")
        form[f"stop_ban-{rule}-{part}"] = value
    return form


SEPARATE_RULES = {
    "stop__field": "stop_state",
    "stop__value": "配信停止",
    "stop__cleared": "1",
    "stop__cleared_value": "配信停止ではない",
    "ban__field": "ban_state",
    "ban__value": "配信禁止",
    "ban__cleared": "1",
    "ban__cleared_value": "配信禁止ではない",
}


def _row(env) -> StopBanSettingsRow | None:
    with env.app.app_context(), session_scope() as session:
        row = session.get(StopBanSettingsRow, env.connector_id)
        if row is not None:
            session.expunge(row)
        return row


def _config(env):
    with env.app.app_context(), session_scope() as session:
        return load_connector_config(session, env.connector_id).section("step6")


def _dialog(env, path: str = "", **form):
    return env.post(f"/stop-ban/dialog{path}", form)


# --- the page --------------------------------------------------------------------------------


def test_step6_sits_between_step5_and_step7_with_the_manuals_note_and_choices(env):
    html = env.page()
    text = text_of(html)
    assert text.index("Step5. 顧客情報連携設定") < text.index("Step6. 配信停止/禁止顧客一覧連携")
    assert text.index("Step6. 配信停止/禁止顧客一覧連携") < text.index("Step7. 顧客閲覧URL連携")
    section = html[html.index('id="section-step6"') : html.index('id="section-step7"')]
    assert DAILY_NOTE in text_of(section).replace(" ", "")
    labels = re.findall(
        r'<label class="form-check-label" for="stop_ban_mode-\w+">([^<]+)<', section
    )
    assert labels == [
        "配信停止の連携を実施する",
        "配信禁止の連携を実施する",
        "両方、別々の項目に連携する",
        "両方、同じ項目に連携する",
    ]
    assert re.search(r'id="stop_ban_mode-separate" value="separate" checked', section)
    assert re.search(r'id="stop_ban-timing-off" value="off"\s+checked', section)
    assert "連携項目の設定" in text_of(section)
    assert "連携項目が設定されていません" in text_of(section)


def test_dialog_offers_only_the_types_of_the_manual_and_rows_per_mode(env):
    response = _dialog(env, **step6(MODE_SEPARATE))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="stop_ban-dialog"' in html and "連携項目の設定" in text_of(html)
    select = re.search(r'<select name="stop_ban-stop-field".*?</select>', html, re.S).group(0)
    codes = [c for c in re.findall(r'<option value="([^"]*)"', select) if c]
    # Text, multi-line, number, date, choices — not the address, links, files.
    assert codes == [
        "name",
        "company",
        "notes",
        "employees",
        "industry",
        "interests",
        "contacted",
        "stop_state",
        "ban_state",
        "tags",
        "stopped_at",
        "must_date",
        "required_state",
    ]
    titles = text_of(html)
    for title in (
        "配信停止連携",
        "配信停止ではなくなった場合の連携を行う",
        "配信禁止連携",
        "配信禁止ではなくなった場合の連携を行う",
    ):
        assert title in titles
    stop_only = text_of(_dialog(env, **step6(MODE_STOP)).get_data(as_text=True))
    assert "配信停止連携" in stop_only and "配信禁止連携" not in stop_only

    same = _dialog(env, **step6(MODE_SAME, stop__field="stop_state")).get_data(as_text=True)
    same_text = text_of(same)
    assert "※同じ項目へ連携" in same_text
    assert (
        "※配信停止かつ配信禁止である場合、配信禁止連携に設定されている値が連携されます。"
        in same_text
    )
    assert "配信停止/配信禁止ではなくなった場合の連携を行う" in same_text
    assert 'name="stop_ban-ban-field"' not in same
    # The 配信禁止 value is drawn for the 配信停止 row's field, and kept when it is closed.
    assert '<input type="hidden" name="stop_ban-ban-field_shown" value="stop_state">' in same
    closed = _dialog(
        env,
        "/apply",
        **step6(
            MODE_SAME,
            stop__field="stop_state",
            stop__field_shown="stop_state",
            stop__value="配信停止",
            ban__same="1",
            ban__field_shown="stop_state",
            ban__value="配信停止ではない",
        ),
    )
    assert closed.status_code == 200, text_of(closed.get_data(as_text=True))
    assert '<input type="hidden" name="stop_ban-ban-value" value="配信停止ではない">' in (
        closed.get_data(as_text=True)
    )


def test_value_inputs_follow_the_chosen_fields_type(env):
    form = step6(
        MODE_SEPARATE,
        stop__field="tags",
        stop__field_shown="",
        ban__field="stopped_at",
        ban__field_shown="",
    )
    html = _dialog(env, "/update", **form).get_data(as_text=True)
    stop_row = re.search(
        r'<tr class="stop-ban-rule-row" data-rule="stop">.*?</tr>', html, re.S
    ).group(0)
    assert 'type="checkbox" name="stop_ban-stop-value" value="__unselected__"' in stop_row
    assert re.findall(r'name="stop_ban-stop-value" value="([^"]+)"', stop_row) == [
        UNSELECTED,
        "停止",
        "禁止",
        "確認済み",
    ]
    ban_row = re.search(r'<tr class="stop-ban-rule-row" data-rule="ban">.*?</tr>', html, re.S)
    assert "※連携実行タイミングがセットされます" in text_of(ban_row.group(0))
    cleared = re.search(r'<tr class="stop-ban-cleared-row" data-rule="ban">.*?</tr>', html, re.S)
    assert "※値なし、もしくはkintone設定のデフォルト値がセットされます" in text_of(cleared.group(0))

    # A required drop-down offers no 「(未選択)」; a text field gets a text box.
    form = step6(MODE_STOP, stop__field="required_state", stop__field_shown="")
    html = _dialog(env, "/update", **form).get_data(as_text=True)
    assert "(未選択)" not in html.split('name="stop_ban-stop-value"')[1].split("</select>")[0]
    form = step6(MODE_STOP, stop__field="employees", stop__field_shown="")
    html = _dialog(env, "/update", **form).get_data(as_text=True)
    assert re.search(
        r'<input type="text" name="stop_ban-stop-value" value=""[^>]*inputmode="decimal"', html
    )


def test_changing_the_field_drops_the_values_of_the_previous_one(env):
    form = step6(
        MODE_STOP,
        stop__field="ban_state",
        stop__field_shown="stop_state",
        stop__value="配信停止",
    )
    html = _dialog(env, "/update", **form).get_data(as_text=True)
    assert "selected" not in html.split('name="stop_ban-stop-value"')[1].split("</select>")[0]


@pytest.mark.parametrize(
    ("form", "name", "message"),
    [
        (step6(MODE_STOP), "stop_ban-stop-field", MSG_FIELD),
        (step6(MODE_STOP, stop__field="stop_state"), "stop_ban-stop-value", MSG_CHOOSE_VALUE),
        (
            step6(MODE_STOP, stop__field="tags", stop__value=[UNSELECTED, "停止"]),
            "stop_ban-stop-value",
            MSG_UNSELECTED_MIXED,
        ),
        (
            step6(MODE_STOP, stop__field="employees", stop__value="１００"),
            "stop_ban-stop-value",
            MSG_NUMBER,
        ),
        (
            step6(MODE_STOP, stop__field="must_date", stop__cleared="1"),
            "stop_ban-stop-cleared",
            MSG_TEMPORAL_REQUIRED,
        ),
        (
            step6(
                MODE_SEPARATE,
                **{**SEPARATE_RULES, "ban__field": "stop_state", "ban__value": "配信停止"},
            ),
            "stop_ban-ban-field",
            MSG_SAME_FIELD,
        ),
    ],
)
def test_close_refuses_incomplete_or_impossible_rules(env, form, name, message):
    response = _dialog(env, "/apply", **form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, name) == message
    assert 'id="stop_ban-dialog-content"' in html


def test_close_puts_the_rules_on_the_page(env):
    response = _dialog(env, "/apply", **step6(MODE_SEPARATE, **SEPARATE_RULES))
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#step6-rules"
    assert "settingsCloseModal" in response.headers["HX-Trigger"]
    html = response.get_data(as_text=True)
    assert '<input type="hidden" name="stop_ban-stop-field" value="stop_state">' in html
    assert (
        '<input type="hidden" name="stop_ban-ban-cleared_value" value="配信禁止ではない">' in html
    )
    rows = [text_of(r) for r in re.findall(r"<tr class=\"stop-ban-summary.*?</tr>", html, re.S)]
    assert [r.split() for r in rows] == [
        ["配信停止連携", "配信停止", "配信停止"],
        ["配信停止ではなくなった場合の連携を行う", "配信停止ではない"],
        ["配信禁止連携", "配信禁止", "配信禁止"],
        ["配信禁止ではなくなった場合の連携を行う", "配信禁止ではない"],
    ]


def test_choosing_another_mode_redraws_the_rules_on_the_page(env):
    form = step6(MODE_SAME, stop__field="stop_state", stop__value="配信停止", ban__value="配信停止")
    html = env.post("/stop-ban/rules", form).get_data(as_text=True)
    assert html.strip().startswith('<div id="step6-rules"')
    assert "※同じ項目へ連携" in text_of(html)
    assert "※配信停止かつ配信禁止である場合" in text_of(html)


# --- 保存 --------------------------------------------------------------------------------------


def test_saved_rules_reach_the_run_configuration_and_the_page(env):
    form = env.valid_form(**step6(MODE_SEPARATE, **SEPARATE_RULES))
    response = env.post("", form)
    assert response.status_code == 200, text_of(response.get_data(as_text=True))[:500]
    setting = _config(env)
    assert (setting.timing, setting.mode, setting.schedule) == ("manual", MODE_SEPARATE, None)
    assert setting.stop == FieldRule(
        "stop_state", "DROP_DOWN", ("配信停止",), True, ("配信停止ではない",)
    )
    assert setting.ban == FieldRule(
        "ban_state", "RADIO_BUTTON", ("配信禁止",), True, ("配信禁止ではない",)
    )
    page = env.page()
    assert '<input type="hidden" name="stop_ban-ban-field" value="ban_state">' in page
    assert re.search(r'id="stop_ban-timing-manual" value="manual"\s+checked', page)

    # 両方、同じ項目: one field, the 配信禁止 value on it, (未選択) as 「ではなくなった」.
    same = step6(
        MODE_SAME,
        stop__field="tags",
        stop__value=["停止"],
        ban__value=["禁止", "停止"],
        stop__cleared="1",
        stop__cleared_value=UNSELECTED,
    )
    assert env.post("", env.valid_form(**same)).status_code == 200
    setting = _config(env)
    assert setting.stop == FieldRule("tags", "MULTI_SELECT", ("停止",), True, ())
    assert setting.ban == FieldRule("tags", "MULTI_SELECT", ("停止", "禁止"))  # option order


def test_a_run_needs_its_rules_but_off_does_not(env):
    response = env.post("", env.valid_form(**step6(MODE_SEPARATE)))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "stop_ban-stop-field") == MSG_RULES_NEEDED.format(rule="配信停止連携")
    assert field_error(html, "stop_ban-ban-field") == MSG_RULES_NEEDED.format(rule="配信禁止連携")
    assert _row(env) is None
    assert env.post("", env.valid_form(**step6(MODE_SEPARATE, timing="off"))).status_code == 200
    assert _config(env).timing == "off"


def test_a_page_without_step6_keeps_what_is_stored(env):
    form = env.valid_form(
        **step6(MODE_STOP, timing="schedule", stop__field="stop_state", stop__value="配信停止"),
        **{"stop_ban-interval": "daily", "stop_ban-hours": "22", "stop_ban-minute": "0"},
    )
    assert env.post("", form).status_code == 200
    assert env.post("", env.valid_form()).status_code == 200
    setting = _config(env)
    assert (setting.timing, setting.mode) == ("schedule", MODE_STOP)
    with env.app.app_context(), session_scope() as session:
        assert schedules_of(session, env.connector_id) == {
            "stop_ban": ScheduleSpec(interval="daily", hours=(22,), minutes=(0,))
        }


def test_schedule_clashing_with_view_url_is_refused_by_the_group_check(env):
    daily = {"interval": "daily", "hours": "22", "minute": "0"}
    form = env.valid_form(
        **step6(MODE_SEPARATE, timing="schedule", **SEPARATE_RULES),
        **{f"stop_ban-{k}": v for k, v in daily.items()},
        **{"view_url-timing": "schedule", "view_url_target": "view_url"},
        **{f"view_url-{k}": v for k, v in daily.items()},
    )
    response = env.post("", form)
    assert response.status_code == 422
    text = text_of(response.get_data(as_text=True))
    assert (
        "「配信停止 / 禁止顧客一覧連携」と「顧客閲覧URL連携」のスケジュール設定が重複しています"
        in text
    )
    assert _row(env) is None


# --- kintone drift (付録6.1) ------------------------------------------------------------------


def test_a_deleted_field_or_option_clears_its_rule_and_the_user_is_told(env):
    assert env.post("", env.valid_form(**step6(MODE_SEPARATE, **SEPARATE_RULES))).status_code == 200
    env.kintone_fields(
        delete=["ban_state"],
        update={"stop_state": {"label": "停止状態"}},  # a rename only warns
    )
    env.post("/kintone-sync", env.access_form())
    dialog = text_of(env.get("/kintone-sync/result").get_data(as_text=True))
    assert "配信停止/禁止顧客一覧連携" in dialog
    assert "配信禁止連携 配信禁止 " + msg.KINTONE_FIELD_DELETED in dialog
    setting = _config(env)
    assert setting.ban is None
    assert setting.stop.field_code == "stop_state"
    assert setting.timing == "manual"  # the timing stays; 保存 asks for the field again
    page_rules = env.get("/sections/step6").get_data(as_text=True)
    assert "停止状態" in text_of(page_rules)

    env.kintone_fields(
        update={"stop_state": {"options": choice_field_options(("配信停止ではない",))}}
    )
    env.post("/kintone-sync", env.access_form())
    dialog = text_of(env.get("/kintone-sync/result").get_data(as_text=True))
    assert "配信停止連携 停止状態 " + msg.KINTONE_FIELD_CHANGED in dialog
    assert _config(env).stop is None
