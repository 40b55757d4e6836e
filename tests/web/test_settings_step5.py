"""Step5 顧客情報連携設定 1…10: option rules (shown only where they apply, never saved elsewhere),
validation, adding/removing settings, schedules, drift and the typed configuration."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer import setting_form as cs
from portal.connector_types.haihai_kintone.customer.condition_storage import MSG_CONDITIONS_FORMAT
from portal.connector_types.haihai_kintone.customer.config import (
    Condition,
    ConditionSet,
    CustomerSyncSetting,
)
from portal.db import session_scope
from portal.models import Connector
from portal.runs.schedule_form import MSG_HOURS
from portal.settings import messages as msg
from portal.syncs.config import ScheduleSpec
from tests.support.settings_env import field_error, text_of
from tests.support.step5_env import (
    conditions_json,
    config,
    is_checked,
    make_step5_env,
    page_form,
    save,
    step5_values,
    stored_rows,
)

# Rendering and refusals do not depend on the database engine; storage tests run on both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    return make_step5_env(app, client, kintone_sandbox, haihai_sandbox)


def block(env, form: MultiDict, number: int = 1) -> str:
    """One setting block re-rendered from `form` (what a change of 連携先種別/連携形式 does)."""
    response = env.post(f"/customer/{number}/block", form)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def saved_setting(env, number: int = 1) -> CustomerSyncSetting:
    return next(s for s in config(env).section("step5") if s.number == number)


# --- the page ---------------------------------------------------------------------------------


def test_page_shows_one_setting_with_the_manuals_labels_between_step4_and_step7(env):
    html = env.page()
    assert html.index("Step4. 連携項目設定") < html.index("Step5. 顧客情報連携設定")
    assert html.index("Step5. 顧客情報連携設定") < html.index("Step7. 顧客閲覧URL連携")
    step5 = text_of(html.split('id="section-step5"')[1].split('id="section-step7"')[0])
    for label in (
        "顧客情報連携設定 1",
        "連携タイミング",
        "連携しない",
        "手動実行",
        "スケジュール実行",
        "連携先種別",
        "顧客データベース",
        "配信グループ指定",
        "ステップメールプラン指定",
        "連携条件",
        "連携条件の設定",
        "条件を確認",
        "連携設定",
        "連携形式",
        "一括登録",
        "一括削除(除外)",
        "データの上書き",
        "同一メールアドレスのデータがある場合、kintoneアプリのデータで上書きする",
        "配信状態の変更",
        "kintoneアプリのデータに存在しない顧客を配信停止にする",
        "連携終了後のレポートメールの送信",
        "送信しない",
        "送信する",
        "エラー時のみ送信する",
        "＋ 顧客情報連携設定を追加する",
    ):
        assert label in step5, label
    # 顧客データベース: no 一括状態変更, no 配信可能にする option, no ID input.
    assert "一括状態変更" not in step5
    assert "kintoneアプリのデータに存在する顧客を配信可能にする" not in step5
    assert "配信グループID" not in step5
    assert "顧客情報連携設定 2" not in step5
    assert is_checked(html, "customer-1-timing-manual")


# Which labels a setting shows for (連携先種別, 連携形式, 状態, データの上書き checked).
OPTION_CASES = [
    (
        ("database", "register", "", False),
        {
            "一括登録",
            "一括削除(除外)",
            "データの上書き",
            "kintoneアプリのデータに存在しない顧客を配信停止にする",
        },
        {
            "一括状態変更",
            "kintoneアプリのデータに存在する顧客を配信可能にする",
            "kintoneアプリのデータが空白の場合",
        },
    ),
    (
        ("database", "delete", "", False),
        {"一括登録", "一括削除(除外)"},
        {"データの上書き", "配信状態の変更", "一括状態変更"},
    ),
    (
        ("group", "register", "", True),
        {
            "一括状態変更",
            "配信グループID",
            "kintoneアプリのデータが空白の場合",
            "配配メールのデータの元の値を残す",
            "配配メールのデータを空白で上書きする",
            "kintoneアプリのデータに存在しない顧客を配信停止にする",
            "kintoneアプリのデータに存在する顧客を配信可能にする",
        },
        {"配信停止に変更", "ステップメールプランID"},
    ),
    (
        ("step_plan", "status_change", "stop", True),
        {"ステップメールプランID", "配信停止に変更", "配信禁止に変更", "配信可能に変更"},
        {"データの上書き", "配信状態の変更", "配信グループID"},
    ),
    (
        ("group", "status_change", "allow", True),
        {"配信可能に変更", "データの上書き", "kintoneアプリのデータが空白の場合"},
        {"配信状態の変更"},
    ),
    (
        ("group", "status_change", "ban", False),
        {"配信禁止に変更"},
        {"データの上書き", "配信状態の変更"},
    ),
    (
        ("step_plan", "delete", "", False),
        {"一括状態変更", "ステップメールプランID"},
        {"データの上書き", "配信状態の変更", "配信停止に変更"},
    ),
]


@sqlite_only
@pytest.mark.parametrize(("choice", "shown", "hidden"), OPTION_CASES)
def test_block_shows_only_the_options_that_apply(env, choice, shown, hidden):
    target, mode, status, overwrite = choice
    values = step5_values(1, target_type=target, mode=mode)
    if status:
        values["customer-1-status_change"] = status
    if overwrite:
        values["customer-1-overwrite"] = "1"
    text = text_of(block(env, page_form(env, values)))
    for label in shown:
        assert label in text, label
    for label in hidden:
        assert label not in text, label


@sqlite_only
def test_synced_method_offers_the_synced_groups_and_plans_manual_method_a_text_input(env):
    html = block(env, page_form(env, step5_values(1, target_type="group")))
    assert '<select class="form-select" name="customer-1-target_id"' in html
    assert "メールマガジン（ID: 1）" in text_of(html)
    html = block(env, page_form(env, step5_values(1, target_type="step_plan")))
    assert "資料請求フォロー（ID: 1）" in text_of(html)
    manual = page_form(env, step5_values(1, target_type="group"), haihai_method="manual")
    html = block(env, manual)
    assert '<input type="text" class="form-control" name="customer-1-target_id"' in html
    assert "<select" not in html.split("配信グループID")[1].split("連携条件")[0]


@sqlite_only
def test_changing_the_haihai_method_on_the_page_rerenders_every_setting(env):
    values = step5_values(1, target_type="group", target_id="1")
    form = page_form(env, values, step5_values(2), haihai_method="manual")
    html = env.post("/customer/refresh", form).get_data(as_text=True)
    assert html.count('name="customer_numbers"') == 2
    assert re.search(
        r'<input type="text"[^>]*name="customer-1-target_id"[^>]*value="1"', html, re.S
    )
    html = env.post("/customer/refresh", page_form(env, values)).get_data(as_text=True)
    assert '<option value="1" selected>メールマガジン（ID: 1）</option>' in html
    assert 'hx-trigger="haihai-method-changed from:body"' in html
    page = env.get().get_data(as_text=True)
    assert page.count('data-change-event="haihai-method-changed"') == 2  # both radios of Step2


@sqlite_only
def test_block_keeps_what_was_posted(env):
    values = step5_values(
        1,
        target_type="group",
        target_id="1",
        mode="register",
        overwrite="1",
        blank="blank",
        stop_missing="1",
        report_mail="on_error",
    )
    html = block(env, page_form(env, values))
    assert 'value="1" selected' in html
    for name in ("overwrite", "stop_missing"):
        assert is_checked(html, f"customer-1-{name}")
    assert is_checked(html, "customer-1-blank-blank")
    assert is_checked(html, "customer-1-report_mail-on_error")


# --- saving: options that do not apply are dropped ------------------------------------------


SAVE_CASES = [
    pytest.param(
        dict(
            target_type="database",
            target_id="1",
            mode="register",
            status_change="ban",
            overwrite="1",
            blank="blank",
            stop_missing="1",
            allow_present="1",
        ),
        dict(
            target_type="database",
            target_id=None,
            mode="register",
            status_change=None,
            overwrite=True,
            blank_overwrites=True,
            stop_missing=True,
            allow_present=False,
        ),
        id="database-register-drops-state-and-allow-present",
    ),
    pytest.param(
        dict(
            target_type="database",
            mode="delete",
            overwrite="1",
            blank="blank",
            stop_missing="1",
        ),
        dict(mode="delete", overwrite=False, blank_overwrites=False, stop_missing=False),
        id="delete-drops-overwrite-and-state-options",
    ),
    pytest.param(
        dict(
            target_type="group",
            target_id="1",
            mode="status_change",
            status_change="allow",
            overwrite="1",
            blank="blank",
            stop_missing="1",
            allow_present="1",
        ),
        dict(
            target_type="group",
            target_id="1",
            mode="status_change",
            status_change="allow",
            overwrite=True,
            blank_overwrites=True,
            stop_missing=False,
            allow_present=False,
        ),
        id="allow-keeps-overwrite-drops-state-options",
    ),
    pytest.param(
        dict(
            target_type="group",
            target_id="1",
            mode="status_change",
            status_change="stop",
            overwrite="1",
            blank="blank",
        ),
        dict(status_change="stop", overwrite=False, blank_overwrites=False),
        id="stop-drops-overwrite",
    ),
    pytest.param(
        dict(
            target_type="step_plan",
            target_id="1",
            mode="register",
            status_change="ban",
            overwrite="1",
            allow_present="1",
        ),
        dict(
            target_type="step_plan",
            target_id="1",
            status_change=None,
            overwrite=True,
            blank_overwrites=False,
            allow_present=True,
        ),
        id="plan-register-keeps-allow-present",
    ),
    pytest.param(
        dict(target_type="database", mode="register", blank="blank"),
        dict(overwrite=False, blank_overwrites=False),
        id="blank-rule-needs-overwrite",
    ),
    pytest.param(
        dict(target_type="group", target_id="1", mode="delete", report_mail="always"),
        dict(mode="delete", report_mail="always", overwrite=False),
        id="report-mail-always",
    ),
]


@pytest.mark.parametrize(("posted", "expected"), SAVE_CASES)
def test_save_keeps_only_the_options_that_apply(env, posted, expected):
    response = save(env, page_form(env, step5_values(1, **posted)))
    assert response.status_code == 200, text_of(response.get_data(as_text=True))[:500]
    setting = saved_setting(env)
    for key, value in expected.items():
        assert getattr(setting, key) == value, key
    (row,) = stored_rows(env)
    for key in ("status_change", "overwrite", "blank_overwrites", "stop_missing", "allow_present"):
        if key in expected:
            assert getattr(row, key) == expected[key], key


def test_synced_group_stores_its_name_too(env):
    save(env, page_form(env, step5_values(1, target_type="group", target_id="1")))
    (row,) = stored_rows(env)
    assert (row.target_id, row.target_name) == ("1", "メールマガジン")


# --- validation -------------------------------------------------------------------------------


VALIDATION_CASES = [
    (dict(target_type="group"), "target_id", "配信グループを選択してください。", "synced"),
    (
        dict(target_type="step_plan"),
        "target_id",
        "ステップメールプランを選択してください。",
        "synced",
    ),
    (
        dict(target_type="group", target_id="99"),
        "target_id",
        cs.MSG_TARGET_UNKNOWN["group"],
        "synced",
    ),
    (dict(target_type="group"), "target_id", "配信グループIDを入力してください。", "manual"),
    (
        dict(target_type="step_plan", target_id="abc"),
        "target_id",
        "ステップメールプランIDは半角数字で入力してください。",
        "manual",
    ),
    (dict(mode="status_change"), "mode", cs.MSG_MODE_NOT_FOR_DATABASE, "synced"),
    (dict(mode=""), "mode", cs.MSG_MODE, "synced"),
    (
        dict(target_type="group", target_id="1", mode="status_change"),
        "status_change",
        cs.MSG_STATUS_CHANGE,
        "synced",
    ),
    (dict(target_type="other"), "target_type", cs.MSG_TARGET_TYPE, "synced"),
    (dict(report_mail=""), "report_mail", cs.MSG_REPORT_MAIL, "synced"),
    (dict(timing="schedule", interval="daily", minute="0"), "hours", MSG_HOURS, "synced"),
    (dict(conditions="{not json"), "conditions", MSG_CONDITIONS_FORMAT, "synced"),
    (
        dict(conditions=conditions_json("all", ("gone", "SINGLE_LINE_TEXT", "eq", "x"))),
        "conditions",
        "連携条件に指定したkintoneのフィールド（フィールドコード: gone）がkintoneアプリに見つかりません。"
        "「kintone項目の同期」を行い、連携条件を設定し直してください。",
        "synced",
    ),
    (
        dict(conditions=conditions_json("all", ("employees", "SINGLE_LINE_TEXT", "eq", "x"))),
        "conditions",
        "連携条件に指定したkintoneのフィールド「従業員数」のフィールドタイプが変更されています"
        "（SINGLE_LINE_TEXT → NUMBER）。「kintone項目の同期」を行い、連携条件を設定し直してください。",
        "synced",
    ),
    (
        dict(conditions=conditions_json("all", ("employees", "NUMBER", "ge", ""))),
        "conditions",
        "「従業員数」の条件値を入力してください。",
        "synced",
    ),
]


@sqlite_only
@pytest.mark.parametrize(("posted", "name", "message", "method"), VALIDATION_CASES)
def test_invalid_setting_is_refused_with_a_message_next_to_the_field(
    env, posted, name, message, method
):
    form = page_form(env, step5_values(1, **posted), haihai_method=method)
    response = save(env, form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, f"customer-1-{name}") == message
    assert msg.SAVE_FAILED in text_of(html)
    assert stored_rows(env) == []


@sqlite_only
def test_refused_form_is_shown_again_as_posted(env):
    values = step5_values(
        1, target_type="group", mode="status_change", status_change="", report_mail="always"
    )
    html = save(env, page_form(env, values)).get_data(as_text=True)
    assert is_checked(html, "customer-1-target_type-group")
    assert is_checked(html, "customer-1-mode-status_change")
    assert is_checked(html, "customer-1-report_mail-always")


def test_setting_set_to_renkei_shinai_needs_no_group_id(env):
    values = step5_values(1, timing="off", target_type="group")
    assert save(env, page_form(env, values)).status_code == 200
    setting = saved_setting(env)
    assert (setting.timing, setting.target_type, setting.target_id) == ("off", "group", None)


@sqlite_only
def test_numbers_must_run_from_one_without_gaps(env):
    form = page_form(env, step5_values(1), step5_values(2))
    form.setlist("customer_numbers", ["1", "3"])
    response = save(env, form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "customer-settings") == cs.MSG_NUMBERS
    assert stored_rows(env) == []


def test_one_bad_setting_among_several_saves_nothing(env):
    form = page_form(
        env,
        step5_values(1),
        step5_values(2, target_type="group", target_id="1"),
        step5_values(3, target_type="step_plan"),
    )
    response = save(env, form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "customer-3-target_id") == "ステップメールプランを選択してください。"
    assert field_error(html, "customer-2-target_id") is None
    assert stored_rows(env) == []


# --- adding and removing settings -----------------------------------------------------------


@sqlite_only
def test_add_appends_the_next_setting_and_keeps_the_others_as_posted(env):
    form = page_form(env, step5_values(1, report_mail="always"))
    response = env.post("/customer/add", form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert "顧客情報連携設定 1" in text and "顧客情報連携設定 2" in text
    assert is_checked(html, "customer-1-report_mail-always")
    assert is_checked(html, "customer-2-timing-manual")
    assert html.count('name="customer_numbers"') == 2
    # Only the last added setting can be removed.
    assert html.count('id="customer-remove"') == 1
    assert html.index('id="customer-remove"') > html.index('id="customer-2"')


@sqlite_only
def test_at_most_ten_settings_can_be_added(env):
    form = page_form(env, *[step5_values(n) for n in range(1, 10)])
    html = env.post("/customer/add", form).get_data(as_text=True)
    assert "顧客情報連携設定 10" in text_of(html)
    assert "＋ 顧客情報連携設定を追加する" not in text_of(html)
    assert "顧客情報連携設定は10件まで設定できます。" in text_of(html)
    full = page_form(env, *[step5_values(n) for n in range(1, 11)])
    html = env.post("/customer/add", full).get_data(as_text=True)
    assert html.count('name="customer_numbers"') == 10


@sqlite_only
def test_remove_drops_the_last_setting_but_never_the_first(env):
    form = page_form(env, step5_values(1), step5_values(2))
    html = env.post("/customer/remove", form).get_data(as_text=True)
    assert html.count('name="customer_numbers"') == 1
    assert 'id="customer-remove"' not in html
    html = env.post("/customer/remove", page_form(env)).get_data(as_text=True)
    assert html.count('name="customer_numbers"') == 1


def test_saving_fewer_settings_deletes_the_removed_one_and_its_schedule(env):
    from portal.runs.service import schedules_of

    daily = dict(timing="schedule", interval="daily", hours="9", minute="0")
    later = dict(timing="schedule", interval="daily", hours="10", minute="0")
    form = page_form(env, step5_values(1), step5_values(2, **daily), step5_values(3, **later))
    assert save(env, form).status_code == 200
    with env.app.app_context(), session_scope() as session:
        assert set(schedules_of(session, env.connector_id)) == {"customer:2", "customer:3"}
    assert save(env, page_form(env, step5_values(1), step5_values(2, **daily))).status_code == 200
    assert [row.number for row in stored_rows(env)] == [1, 2]
    with env.app.app_context(), session_scope() as session:
        assert set(schedules_of(session, env.connector_id)) == {"customer:2"}
    html = env.page()
    assert "顧客情報連携設定 2" in text_of(html) and "顧客情報連携設定 3" not in text_of(html)


def test_a_form_without_step5_keeps_the_stored_settings_and_schedules(env):
    from portal.runs.service import schedules_of

    daily = dict(timing="schedule", interval="daily", hours="9", minute="0")
    assert save(env, page_form(env, step5_values(1, **daily))).status_code == 200
    response = save(env, MultiDict(env.valid_form()))
    assert response.status_code == 200
    assert saved_setting(env).timing == "schedule"
    with env.app.app_context(), session_scope() as session:
        assert "customer:1" in schedules_of(session, env.connector_id)


# --- schedules (付録6.3) ----------------------------------------------------------------------


@sqlite_only
def test_identical_schedules_of_two_settings_are_refused(env):
    daily = dict(timing="schedule", interval="daily", hours="9", minute="30")
    response = save(env, page_form(env, step5_values(1, **daily), step5_values(2, **daily)))
    assert response.status_code == 422
    text = text_of(response.get_data(as_text=True))
    assert "「顧客情報連携 1」と「顧客情報連携 2」のスケジュール設定が重複しています" in text
    assert stored_rows(env) == []


@sqlite_only
def test_schedule_clashing_with_step7_is_refused(env):
    daily = dict(timing="schedule", interval="daily", hours="9", minute="30")
    form = page_form(env, step5_values(1, **daily))
    form.setlist("view_url-timing", ["schedule"])
    form.add("view_url-interval", "daily")
    form.add("view_url-hours", "9")
    form.add("view_url-minute", "30")
    form.setlist("view_url_target", ["view_url"])
    response = save(env, form)
    assert response.status_code == 422
    assert "「顧客情報連携 1」と「顧客閲覧URL連携」" in text_of(response.get_data(as_text=True))


def test_schedules_that_may_coincide_ask_first_and_save_when_confirmed(env):
    from portal.runs.service import schedules_of

    day30 = dict(timing="schedule", interval="monthly", month_day="30", hours="8", minute="0")
    last = dict(timing="schedule", interval="monthly", month_day="last", hours="8", minute="0")
    form = page_form(env, step5_values(1, **day30), step5_values(2, **last))
    response = save(env, form)
    assert response.status_code == 200
    assert 'id="schedule-confirm-dialog"' in response.get_data(as_text=True)
    assert stored_rows(env) == []
    form.add("confirmed", "1")
    assert save(env, form).status_code == 200
    with env.app.app_context(), session_scope() as session:
        specs = schedules_of(session, env.connector_id)
    assert specs["customer:1"] == ScheduleSpec(
        "monthly", month_days=(30,), hours=(8,), minutes=(0,)
    )
    assert specs["customer:2"].month_days == ("last",)


# --- the typed configuration ------------------------------------------------------------------


def test_load_connector_config_returns_the_settings_as_customer_sync_settings(env):
    conditions = conditions_json(
        "any",
        ("industry", "DROP_DOWN", "in", ["製造業", ""]),
        (
            "作成日時",
            "CREATED_TIME",
            "ge",
            {"kind": "from_today", "amount": 7, "unit": "days", "direction": "before"},
        ),
    )
    form = page_form(
        env,
        step5_values(1, conditions=conditions, overwrite="1", stop_missing="1"),
        step5_values(
            2,
            timing="schedule",
            interval="weekly",
            weekday="0",
            hours="7",
            minute="15",
            target_type="step_plan",
            target_id="1",
            mode="status_change",
            status_change="ban",
            report_mail="on_error",
        ),
    )
    assert save(env, form).status_code == 200
    first, second = config(env).section("step5")
    assert first == CustomerSyncSetting(
        number=1,
        timing="manual",
        conditions=ConditionSet(
            "any",
            (
                Condition("industry", "DROP_DOWN", "in", ("製造業", "")),
                Condition(
                    "作成日時",
                    "CREATED_TIME",
                    "ge",
                    {"kind": "from_today", "amount": 7, "unit": "days", "direction": "before"},
                ),
            ),
        ),
        overwrite=True,
        stop_missing=True,
    )
    assert second == CustomerSyncSetting(
        number=2,
        timing="schedule",
        schedule=ScheduleSpec("weekly", weekdays=(0,), hours=(7,), minutes=(15,)),
        target_type="step_plan",
        target_id="1",
        mode="status_change",
        status_change="ban",
        report_mail="on_error",
    )


def test_page_shows_the_saved_settings_again(env):
    values = step5_values(
        1,
        target_type="group",
        target_id="1",
        overwrite="1",
        blank="blank",
        allow_present="1",
        conditions=conditions_json("all", ("employees", "NUMBER", "ge", "10")),
    )
    save(env, page_form(env, values))
    html = env.page()
    assert is_checked(html, "customer-1-target_type-group")
    assert is_checked(html, "customer-1-blank-blank")
    assert is_checked(html, "customer-1-allow_present")
    assert "従業員数が10以上" in text_of(html)


# --- drift ------------------------------------------------------------------------------------


def _save_conditions(env, *conditions, number_of_settings: int = 1) -> None:
    values = [step5_values(1, conditions=conditions_json("all", *conditions))]
    values += [step5_values(n) for n in range(2, number_of_settings + 1)]
    response = save(env, page_form(env, *values))
    assert response.status_code == 200, text_of(response.get_data(as_text=True))[:400]


def test_kintone_resync_removes_conditions_on_a_deleted_field_and_lists_them(env):
    _save_conditions(
        env,
        ("company", "SINGLE_LINE_TEXT", "like", "株式会社"),
        ("company", "SINGLE_LINE_TEXT", "ne", "テスト"),
        ("employees", "NUMBER", "ge", "10"),
    )
    env.kintone_fields(delete=["company"])
    env.post("/kintone-sync", env.access_form())
    (condition,) = saved_setting(env).conditions.conditions
    assert condition.field_code == "employees"
    dialog = env.get("/kintone-sync/result").get_data(as_text=True)
    group = dialog.split("顧客情報連携設定 1")[1]
    assert text_of(group).count("会社名") == 1  # one line per field, not per condition
    assert msg.KINTONE_FIELD_DELETED in text_of(group)


def test_kintone_resync_removes_conditions_on_a_field_whose_option_was_deleted(env):
    _save_conditions(
        env,
        ("industry", "DROP_DOWN", "in", ["製造業"]),
        ("interests", "CHECK_BOX", "in", ["勤怠"]),
    )
    env.kintone_fields(
        update={"industry": {"options": {"製造業": {"label": "製造業", "index": "0"}}}}
    )
    env.post("/kintone-sync", env.access_form())
    assert [c.field_code for c in saved_setting(env).conditions.conditions] == ["interests"]
    dialog = text_of(env.get("/kintone-sync/result").get_data(as_text=True))
    assert "顧客情報連携設定 1" in dialog and "業種" in dialog
    assert msg.KINTONE_FIELD_CHANGED in dialog


def test_kintone_label_change_keeps_the_condition_and_the_summary_follows(env):
    _save_conditions(env, ("employees", "NUMBER", "ge", "10"))
    env.kintone_fields(update={"employees": {"label": "社員数"}})
    env.post("/kintone-sync", env.access_form())
    assert len(saved_setting(env).conditions.conditions) == 1
    assert "社員数が10以上" in text_of(env.page())


def test_step5_rerenders_from_storage_after_a_sync(env):
    _save_conditions(env, ("employees", "NUMBER", "ge", "10"))
    env.kintone_fields(update={"employees": {"label": "社員数"}})
    response = env.post("/kintone-sync", env.access_form())
    assert "kintoneSynced" in response.headers["HX-Trigger"]
    html = env.get("/sections/step5").get_data(as_text=True)
    assert 'id="section-step5"' in html
    assert "社員数が10以上" in text_of(html)


def test_haihai_resync_clears_deleted_groups_and_plans_and_lists_them(env):
    form = page_form(
        env,
        step5_values(1, target_type="group", target_id="1"),
        step5_values(2, target_type="step_plan", target_id="1"),
        step5_values(3),
    )
    assert save(env, form).status_code == 200
    env.haihai_admin("DELETE", "/groups/1")
    env.haihai_admin("DELETE", "/plans/1")
    env.post("/haihai-sync", env.access_form())
    first, second, third = config(env).section("step5")
    assert (first.target_type, first.target_id) == ("group", None)
    assert (second.target_type, second.target_id) == ("step_plan", None)
    assert third.target_id is None
    dialog = env.get("/haihai-sync/result").get_data(as_text=True)
    one = text_of(dialog.split("顧客情報連携設定 1")[1].split("顧客情報連携設定 2")[0])
    assert "メールマガジン" in one and msg.HAIHAI_GROUP_DELETED in one
    two = text_of(dialog.split("顧客情報連携設定 2")[1])
    assert "資料請求フォロー" in two and msg.HAIHAI_STEP_PLAN_DELETED in two
    assert "顧客情報連携設定 3" not in dialog
    # The page now asks for a group again before it saves.
    html = save(env, page_form(env, step5_values(1, target_type="group"))).get_data(as_text=True)
    assert field_error(html, "customer-1-target_id") == "配信グループを選択してください。"


# --- tenancy ----------------------------------------------------------------------------------


@sqlite_only
def test_step5_endpoints_of_another_accounts_connector_are_404(env, app):
    from tests.support.accounts import create_account

    other = create_account(app, "HC9998")
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=other.id, name="他社")
        session.add(connector)
        session.flush()
        foreign = connector.id
    form = page_form(env)
    for path in (
        "/customer/1/block",
        "/customer/add",
        "/customer/remove",
        "/customer/1/conditions",
        "/customer/1/conditions/update",
        "/customer/1/conditions/apply",
        "/customer/1/conditions/check",
    ):
        response = env.client.post(
            f"/connectors/{foreign}/settings{path}", data=form, headers={"HX-Request": "true"}
        )
        assert response.status_code == 404, path
    assert env.post("/customer/11/block", form).status_code == 404
