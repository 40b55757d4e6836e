"""Step6. 配信停止/禁止顧客一覧連携: timing, 連携種別 and the rules of 「連携項目の設定」."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.stop_ban.config import (
    DEFAULT_MODE,
    MODE_LABELS,
    MODE_SAME,
    STOP_BAN,
    FieldRule,
    StopBanSetting,
    uses_ban,
    uses_stop,
)
from portal.connector_types.haihai_kintone.stop_ban.form import (
    MODE_FIELD,
    MSG_MODE,
    MSG_RULES_NEEDED,
    PRECEDENCE_NOTE,
    PREFIX,
    PRESENT_FIELD,
    SAME_FIELD_NOTE,
    RuleInput,
    name,
    parse_rules,
    posted_mode,
    posted_rules,
    rule_rows,
)
from portal.connector_types.haihai_kintone.stop_ban.values import RULE_BAN, RULE_STOP
from portal.models.stop_ban import StopBanSettingsRow
from portal.settings import messages as msg
from portal.settings import schedule_support
from portal.settings.mapping import rows_from_form
from portal.settings.mapping_step import stored_rows
from portal.settings.sections import KINTONE_SYNCED, DriftEntry, Section, SectionContext
from portal.settings.step_fields import TIMINGS, breaking_changes, drift_reason
from portal.syncs.config import ScheduleSpec
from portal.syncs.kintone_schema import FieldChange

# The manual's note of Step6, word for word (two lines on its screen).
DAILY_NOTE = (
    "1日に実行可能な連携回数は最大10回までとなります。",
    "超過した場合は、連携エラーとなりますのでご注意ください。",
)
GROUP_TITLE = "配信停止/禁止顧客一覧連携"
HEADER_RULE = "連携"


@dataclass(frozen=True)
class StopBanData:
    """Step6 as parsed; `keep` when the posted page carried no Step6 (stored one kept)."""

    timing: str
    schedule: ScheduleSpec | None
    mode: str
    stop: FieldRule | None
    ban: FieldRule | None
    keep: bool = False


def stored_row(ctx: SectionContext) -> StopBanSettingsRow:
    """The stored Step6 row (a new, unsaved one when there is none)."""
    return ctx.session.get(StopBanSettingsRow, ctx.connector.id) or StopBanSettingsRow(
        connector_id=ctx.connector.id, mode=DEFAULT_MODE
    )


def email_field(ctx: SectionContext, form: MultiDict | None = None) -> str | None:
    """The kintone field of Step4's mail-address row: as being saved, as on the page, or stored."""
    step4 = ctx.parsed.get("step4")
    rows = getattr(step4, "rows", None)
    if not rows and form is not None:
        rows = rows_from_form(form)
    if not rows:
        rows = stored_rows(ctx)
    return rows[0].kintone_code if rows else None


def stored_setting(row: StopBanSettingsRow) -> tuple[FieldRule | None, FieldRule | None]:
    """The stored rules of `row`."""
    return FieldRule.from_json(row.stop_rule), FieldRule.from_json(row.ban_rule)


def stored_inputs(row: StopBanSettingsRow) -> dict[str, RuleInput]:
    """The stored rules as the dialog's inputs."""
    stop, ban = stored_setting(row)
    return {"stop": RuleInput.from_rule(stop), "ban": RuleInput.from_rule(ban)}


def rules_view(mode: str, rules: dict[str, RuleInput], ctx: SectionContext) -> dict[str, Any]:
    """What `_stop_ban_rules.html` (hidden inputs + summary) needs."""
    return {
        "mode": mode,
        "rules": rules,
        "rows": rule_rows(mode, rules, ctx.kintone_fields),
        "same_field_note": SAME_FIELD_NOTE,
        "precedence_note": PRECEDENCE_NOTE if mode == MODE_SAME else "",
        "configured": any(r.field for r in rules.values()),
    }


class StopBanSection(Section):
    """Step6. 配信停止/禁止顧客一覧連携 (manual §2.1.3 step 9, 付録2)."""

    key = "step6"
    order = 60
    title = "Step6. 配信停止/禁止顧客一覧連携"
    template = "settings/_step6.html"
    refresh_on = (KINTONE_SYNCED,)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        row = stored_row(ctx)
        return {
            "schedule": schedule_support.stored_editor(
                ctx.session, ctx.connector.id, STOP_BAN, row.timing
            ),
            "mode": row.mode if row.mode in MODE_LABELS else DEFAULT_MODE,
            "rules": stored_inputs(row),
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        if form.get(PRESENT_FIELD) is None:
            return self.stored_values(ctx)
        return {
            "schedule": schedule_support.posted_editor(form, PREFIX),
            "mode": posted_mode(form, DEFAULT_MODE),
            "rules": posted_rules(form),
        }

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        """The stored Step6 as the page posts it: schedule, 連携種別 and both rules' inputs."""
        row = stored_row(ctx)
        fields = MultiDict(
            schedule_support.editor_fields(
                ctx.session, ctx.connector.id, PREFIX, STOP_BAN, row.timing
            )
        )
        fields.add(PRESENT_FIELD, "1")
        fields.add(MODE_FIELD, row.mode if row.mode in MODE_LABELS else DEFAULT_MODE)
        for rule, inputs in stored_inputs(row).items():
            fields.add(name(rule, "field"), inputs.field)
            for value in inputs.values:
                fields.add(name(rule, "value"), value)
            if inputs.cleared:
                fields.add(name(rule, "cleared"), "1")
            for value in inputs.cleared_values:
                fields.add(name(rule, "cleared_value"), value)
        return fields

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "prefix": PREFIX,
            "mode_field": MODE_FIELD,
            "present_field": PRESENT_FIELD,
            "mode_labels": MODE_LABELS,
            "daily_note": DAILY_NOTE,
            "has_kintone_fields": bool(ctx.kintone_fields),
            **rules_view(values["mode"], values["rules"], ctx),
        }

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[StopBanData, dict[str, str]]:
        if form.get(PRESENT_FIELD) is None:
            row = stored_row(ctx)
            spec = None
            if row.timing == "schedule":
                spec = schedule_support.stored_spec(ctx.session, ctx.connector.id, STOP_BAN)
            return StopBanData(row.timing, spec, row.mode, None, None, keep=True), {}
        timing, spec, errors = schedule_support.parse_timing(form, PREFIX)
        mode = form.get(MODE_FIELD)
        if mode not in MODE_LABELS:
            errors[MODE_FIELD] = MSG_MODE
            mode = DEFAULT_MODE
        runs = timing in ("manual", "schedule")
        stop, ban, rule_errors = parse_rules(
            mode, posted_rules(form), ctx.kintone_fields, email_field(ctx, form), required=False
        )
        errors.update(rule_errors)
        if runs:
            if uses_stop(mode) and stop is None and name("stop", "field") not in errors:
                errors[name("stop", "field")] = MSG_RULES_NEEDED.format(rule=RULE_STOP)
            if uses_ban(mode) and mode != MODE_SAME and ban is None:
                errors.setdefault(name("ban", "field"), MSG_RULES_NEEDED.format(rule=RULE_BAN))
        return StopBanData(timing or "off", spec, mode, stop, ban), errors

    def claimed_fields(self, ctx: SectionContext, data: StopBanData) -> dict[str, str]:
        if data.keep:
            return self.config_value(ctx).claimed_fields()
        return StopBanSetting(stop=data.stop, ban=data.ban).claimed_fields()

    def store(self, ctx: SectionContext, data: StopBanData) -> None:
        if data.keep:
            return
        row = stored_row(ctx)
        row.timing = data.timing
        row.mode = data.mode
        row.stop_rule = data.stop.to_json() if data.stop else None
        row.ban_rule = data.ban.to_json() if data.ban else None
        ctx.session.add(row)

    def schedules(self, data: StopBanData) -> dict[str, Any]:
        return {STOP_BAN: data.schedule if data.timing == "schedule" else None}

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        """A rule whose field was removed or changed (付録6.1 ②) is removed with its values."""
        row = ctx.session.get(StopBanSettingsRow, ctx.connector.id)
        if row is None:
            return []
        breaking = breaking_changes(changes)
        stop, ban = stored_setting(row)
        entries = []
        for rule, title, attribute in ((stop, RULE_STOP, "stop_rule"), (ban, RULE_BAN, "ban_rule")):
            change = breaking.get(rule.field_code) if rule else None
            if change is None:
                continue
            setattr(row, attribute, None)
            if row.mode == MODE_SAME and attribute == "ban_rule":
                continue  # the same field: reported once, under 配信停止連携
            entries.append(
                DriftEntry(
                    GROUP_TITLE,
                    (HEADER_RULE, msg.HEADER_KINTONE_FIELD, msg.HEADER_ERROR),
                    (title, change.old_label or change.code, drift_reason(change)),
                )
            )
        if entries:
            ctx.session.add(row)
        return entries

    def config_value(self, ctx: SectionContext) -> StopBanSetting:
        row = stored_row(ctx)
        timing = row.timing if row.timing in TIMINGS else "off"
        schedule = None
        if timing == "schedule":
            schedule = schedule_support.stored_spec(ctx.session, ctx.connector.id, STOP_BAN)
        stop, ban = stored_setting(row)
        return StopBanSetting(
            timing=timing,  # type: ignore[arg-type]
            schedule=schedule,
            mode=row.mode if row.mode in MODE_LABELS else DEFAULT_MODE,
            stop=stop,
            ban=ban,
        )
