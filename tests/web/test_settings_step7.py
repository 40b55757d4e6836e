"""Step7 顧客閲覧URL連携, the §4.2 schedule check across sections, and the section protocol."""

from __future__ import annotations

import dataclasses
import re

import pytest
from jinja2 import ChoiceLoader, DictLoader

from portal.connector_types import registry
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.models.settings import ViewUrlSettingsRow
from portal.runs.service import schedules_of
from portal.settings import messages as msg
from portal.settings import schedule_support, sections
from portal.syncs.config import ScheduleSpec
from tests.support.settings_env import field_error, make_env, text_of


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    env = make_env(app, client, kintone_sandbox, haihai_sandbox)
    env.sync_both()
    return env


def _schedules(env) -> dict:
    with env.app.app_context(), session_scope() as session:
        return schedules_of(session, env.connector_id)


def _daily(prefix: str, hour: int, minute: int = 0) -> dict:
    return {
        f"{prefix}-timing": "schedule",
        f"{prefix}-interval": "daily",
        f"{prefix}-hours": str(hour),
        f"{prefix}-minute": str(minute),
    }


def test_target_field_choices_are_text_and_link_fields_of_the_synced_app(env):
    html = env.page()
    select = re.search(r'<select[^>]*name="view_url_target".*?</select>', html, re.S).group(0)
    codes = [c for c in re.findall(r'<option value="([^"]*)"', select) if c]
    assert codes == ["email", "name", "company", "notes", "homepage", "view_url"]
    assert "顧客ページ（リンク）" in text_of(select)
    assert "kintone:連携先項目名" in text_of(html) and "顧客閲覧URL連携" in text_of(html)


def test_scheduled_view_url_is_stored_with_its_schedule(env):
    form = env.valid_form(**_daily("view_url", 22, 30), view_url_target="view_url")
    response = env.post("", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    spec = ScheduleSpec(interval="daily", hours=(22,), minutes=(30,))
    assert _schedules(env) == {"view_url": spec}
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
        assert session.get(ViewUrlSettingsRow, env.connector_id).timing == "schedule"
    assert config.section("step7").timing == "schedule"
    assert config.section("step7").schedule == spec
    assert config.section("step7").target_field == "view_url"
    # The page shows the stored schedule in the editor.
    html = env.page()
    assert re.search(r'id="view_url-timing-schedule" value="schedule"\s+checked', html)
    assert re.search(r'id="view_url-hours-22" value="22" autocomplete="off" checked', html)

    # Manual runs keep the field but drop the schedule.
    response = env.post(
        "", env.valid_form(**{"view_url-timing": "manual"}, view_url_target="company")
    )
    assert response.status_code == 200
    assert _schedules(env) == {}
    with env.app.app_context(), session_scope() as session:
        config = load_connector_config(session, env.connector_id)
    assert (config.section("step7").timing, config.section("step7").schedule) == ("manual", None)
    assert config.section("step7").target_field == "company"


def test_view_url_needs_a_text_or_link_field_when_it_runs(env):
    response = env.post("", env.valid_form(**{"view_url-timing": "manual"}))
    assert field_error(response.get_data(as_text=True), "view_url_target") == (
        msg.VIEW_URL_FIELD_REQUIRED
    )
    response = env.post(
        "", env.valid_form(**{"view_url-timing": "manual"}, view_url_target="employees")
    )
    assert field_error(response.get_data(as_text=True), "view_url_target") == (
        msg.VIEW_URL_FIELD_TYPE
    )
    # 連携しない needs nothing.
    assert env.post("", env.valid_form(**{"view_url-timing": "off"})).status_code == 200


STOP_RULE_ON_NOTES = {
    "stop_ban_present": "1",
    "stop_ban-timing": "manual",
    "stop_ban_mode": "stop",
    "stop_ban-stop-field": "notes",
    "stop_ban-stop-value": "配信停止",
}


@pytest.mark.parametrize(
    ("target", "extra", "use"),
    [
        ("email", {}, "「メールアドレス」はメールアドレスの連携に使用している項目です"),
        ("name", {}, "「氏名」はStep4の連携項目に設定されている項目です"),
        ("notes", STOP_RULE_ON_NOTES, "「備考」はStep6の配信停止連携に設定されている項目です"),
    ],
)
def test_a_target_field_another_process_uses_is_refused_and_nothing_is_saved(
    env, target, extra, use
):
    form = env.valid_form(**{"view_url-timing": "manual"}, view_url_target=target, **extra)
    response = env.post("", form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "view_url_target") == (
        msg.VIEW_URL_FIELD_IN_USE.format(use=use)
    )
    with env.app.app_context(), session_scope() as session:
        assert session.get(ViewUrlSettingsRow, env.connector_id) is None
    # 連携しない stores nothing that runs; a field no other process uses saves.
    assert env.post("", {**form, "view_url_target": "homepage"}).status_code == 200


def test_a_stored_step6_rule_counts_when_the_page_posts_no_step6(env):
    assert env.post("", env.valid_form(**STOP_RULE_ON_NOTES)).status_code == 200
    form = env.valid_form(**{"view_url-timing": "manual"}, view_url_target="notes")
    response = env.post("", form)
    assert response.status_code == 422
    assert "Step6の配信停止連携" in field_error(response.get_data(as_text=True), "view_url_target")


def test_schedule_editor_errors_are_shown_next_to_its_fields(env):
    form = env.valid_form(
        **{"view_url-timing": "schedule", "view_url-interval": "daily", "view_url-minute": "0"},
        view_url_target="view_url",
    )
    response = env.post("", form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "view_url-hours") == (
        "時間を1つ以上選択してください。"
    )
    assert _schedules(env) == {}


# --- a section registered from outside (how Steps 5, 6, 8, 9 plug in) -------------------------


class ExtraScheduleSection(sections.Section):
    """A stand-in for another Step owning one schedule (a schedule of 顧客情報連携 2)."""

    key = "test_extra"
    order = 99
    title = "StepX. テスト用セクション"
    template = "settings/_test_extra.html"
    refresh_on = (sections.KINTONE_SYNCED,)
    prefix = "extra"

    def stored_values(self, ctx):
        return {
            "schedule": schedule_support.stored_editor(
                ctx.session, ctx.connector.id, "customer:2", "off"
            )
        }

    def posted_values(self, form, ctx):
        return {"schedule": schedule_support.posted_editor(form, self.prefix)}

    def parse(self, form, ctx):
        timing, spec, errors = schedule_support.parse_timing(form, self.prefix)
        # A later section sees what earlier ones parsed in the same save.
        assert ctx.parsed["step2"].method in ("manual", "synced")
        return (timing, spec), errors

    def store(self, ctx, data):
        ctx.connector.name = ctx.connector.name + "（拡張済み）"

    def schedules(self, data):
        timing, spec = data
        return {"customer:2": spec if timing == "schedule" else None}

    def editor_prefix(self, process_key):
        return self.prefix

    def on_kintone_drift(self, ctx, changes):
        removed = [c for c in changes if c.is_error]
        return [
            sections.DriftEntry("テスト用", ("kintone項目名", "エラー内容"), (c.label, "テスト"))
            for c in removed
        ]


@pytest.fixture
def extra_section(app, monkeypatch):
    template = (
        '{% from "_macros/schedule.html" import schedule_editor %}'
        '{{ schedule_editor("extra", values.schedule, errors=errors) }}'
    )
    app.jinja_env.loader = ChoiceLoader(
        [DictLoader({"settings/_test_extra.html": template}), app.jinja_env.loader]
    )
    section = ExtraScheduleSection()
    current = registry.get_connector_type("haihai_kintone")
    extended = dataclasses.replace(current, sections=(*current.sections, section))
    monkeypatch.setitem(registry._types, current.kind, extended)
    return section


def test_registered_section_renders_in_order_and_refreshes_after_a_sync(env, extra_section):
    html = env.page()
    assert html.index("Step7. 顧客閲覧URL連携") < html.index("StepX. テスト用セクション")
    assert html.index("StepX. テスト用セクション") < html.index('id="settings-save"')
    assert 'hx-trigger="kintoneSynced from:body"' in html
    assert 'name="extra-timing"' in html
    section = env.get("/sections/test_extra").get_data(as_text=True)
    assert section.strip().startswith('<section id="section-test_extra"')
    env.kintone_fields(delete=["homepage"])
    env.post("/kintone-sync", env.access_form())
    dialog = text_of(env.get("/kintone-sync/result").get_data(as_text=True))
    assert "テスト用" in dialog and "ホームページ" in dialog


def test_identical_daily_schedules_are_refused_and_nothing_is_saved(env, extra_section):
    form = env.valid_form(
        **_daily("view_url", 10), **_daily("extra", 10), view_url_target="view_url"
    )
    response = env.post("", form)
    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert "「顧客閲覧URL連携」と「顧客情報連携 2」のスケジュール設定が重複しています" in page
    # The message is also shown above each schedule editor it concerns (the page scrolls to it).
    html = response.get_data(as_text=True)
    for prefix in ("view_url", "extra"):
        assert "「顧客閲覧URL連携」と「顧客情報連携 2」のスケジュール設定が重複しています" in (
            field_error(html, f"{prefix}-schedule") or ""
        )
    editor = html[html.index('id="view_url-schedule"') :]
    assert editor.index('data-error-for="view_url-schedule"') < editor.index("</fieldset>")
    assert _schedules(env) == {}
    with env.app.app_context(), session_scope() as session:
        assert session.get(ViewUrlSettingsRow, env.connector_id) is None


def test_schedules_that_may_coincide_ask_first_and_ok_saves(env, extra_section):
    monthly = {
        "view_url-timing": "schedule",
        "view_url-interval": "monthly",
        "view_url-month_day": "1",
        "view_url-hours": "10",
        "view_url-minute": "0",
    }
    weekly = {
        "extra-timing": "schedule",
        "extra-interval": "weekly",
        "extra-weekday": "1",
        "extra-hours": "10",
        "extra-minute": "0",
    }
    form = env.valid_form(**monthly, **weekly, view_url_target="view_url")
    response = env.post("", form)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#modal-container"
    assert response.headers["HX-Reswap"] == "innerHTML"
    dialog = response.get_data(as_text=True)
    assert "同じタイミングで実行される可能性があります" in text_of(dialog)
    assert 'hx-vals=\'{"confirmed": "1"}\'' in dialog and 'hx-include="#settings-form"' in dialog
    assert "キャンセル" in text_of(dialog)
    assert _schedules(env) == {}

    response = env.post("", {**form, "confirmed": "1"})
    assert response.status_code == 200
    assert msg.SAVED in text_of(response.get_data(as_text=True))
    assert set(_schedules(env)) == {"view_url", "customer:2"}
    with env.app.app_context(), session_scope() as session:
        assert load_connector_config(session, env.connector_id).name.endswith("（拡張済み）")


def test_schedules_that_never_meet_are_saved_silently(env, extra_section):
    form = env.valid_form(
        **_daily("view_url", 10), **_daily("extra", 11), view_url_target="view_url"
    )
    response = env.post("", form)
    assert response.status_code == 200
    assert "HX-Retarget" not in response.headers
    assert set(_schedules(env)) == {"view_url", "customer:2"}


# --- re-rendered after a sync: unsaved edits stay unless the sync removed this section's setting


def _selected_target(html: str) -> str | None:
    select = re.search(r'<select[^>]*name="view_url_target".*?</select>', html, re.S).group(0)
    found = re.search(r'<option value="([^"]*)" selected>', select)
    return found.group(1) if found else None


def test_a_sync_keeps_the_unsaved_edits_of_the_sections_it_re_renders(env):
    saved = env.valid_form(**{"view_url-timing": "manual"}, view_url_target="view_url")
    assert env.post("", saved).status_code == 200
    # Edited on the page, not saved; then 「kintone項目の同期」 fires kintoneSynced and the
    # section posts the page's form.
    env.kintone_fields(add={"memo": {"type": "MULTI_LINE_TEXT", "label": "メモ"}})
    assert env.post("/kintone-sync", env.access_form()).status_code == 200
    page = {**saved, **_daily("view_url", 6), "view_url_target": "memo"}
    html = env.post("/sections/step7?after=kintoneSynced", page).get_data(as_text=True)
    assert _selected_target(html) == "memo"  # a field the sync just brought, chosen unsaved
    assert re.search(r'id="view_url-timing-schedule" value="schedule"\s+checked', html)
    assert re.search(r'id="view_url-hours-6" value="6" autocomplete="off" checked', html)
    with env.app.app_context(), session_scope() as session:
        assert session.get(ViewUrlSettingsRow, env.connector_id).target_field == "view_url"


def test_a_sync_that_removed_the_sections_setting_shows_storage_as_a_reload_would(env):
    saved = env.valid_form(**{"view_url-timing": "manual"}, view_url_target="view_url")
    assert env.post("", saved).status_code == 200
    env.kintone_fields(delete=["view_url"])
    assert env.post("/kintone-sync", env.access_form()).status_code == 200
    page = {**saved, "view_url_target": "homepage"}
    html = env.post("/sections/step7?after=kintoneSynced", page).get_data(as_text=True)
    assert _selected_target(html) is None  # the stored target was cleared by the sync
    # Another section the sync did not touch keeps the page's values.
    html = env.post("/sections/step7?after=haihaiSynced", page).get_data(as_text=True)
    assert _selected_target(html) == "homepage"
