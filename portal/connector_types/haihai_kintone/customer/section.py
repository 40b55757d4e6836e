"""Step5. 顧客情報連携設定 1 … 10 (manual §2.1.3 step 7–8, 付録1.2).

Each setting posts its fields under `customer-<n>-…` (the schedule editor uses the prefix
`customer-<n>`) and one hidden `customer_numbers` input per setting, so the page always posts
the numbers 1…k it shows. The rules of which options apply to which 連携先種別 and 連携形式 live in
`applicable_options`; the template shows only those and the parser keeps only those, so an option
that does not apply is never stored. Conditions travel as JSON in the hidden input
`customer-<n>-conditions` (written by the 「連携条件の設定」 dialog) and are stored structurally.

The form (names, labels, messages, option rules, `parse_setting`) lives in `setting_form`, the
rows of `customer_sync_settings` in `setting_rows`; this module is the section itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    condition_set_from_json,
    condition_set_to_json,
    summarize,
)
from portal.connector_types.haihai_kintone.customer.config import ConditionSet, CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.setting_form import (
    ALLOW_PRESENT_LABEL,
    BLANK_LABELS,
    BLANK_RULE_LABEL,
    MAX_SETTINGS,
    MODE_LABELS,
    MSG_NUMBERS,
    NUMBERS_FIELD,
    OVERWRITE_LABEL,
    REPORT_LABELS,
    SETTINGS_ERROR,
    STATUS_LABELS,
    STOP_MISSING_LABEL,
    TARGET_ID_LABELS,
    TARGET_LABELS,
    ParsedSetting,
    default_values,
    group_title,
    numbers_are_valid,
    parse_setting,
    posted_numbers,
    posted_setting_values,
    process_key,
)
from portal.connector_types.haihai_kintone.customer.setting_rows import (
    row_conditions,
    row_form_fields,
    row_to_setting,
    row_values,
    stored_rows,
    write_row,
)
from portal.models.customer_syncs import CustomerSyncRow
from portal.models.settings import HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings import schedule_support
from portal.settings.haihai_drift import HaihaiDiff
from portal.settings.sections import (
    HAIHAI_SYNCED,
    KINTONE_SYNCED,
    DriftEntry,
    Section,
    SectionContext,
)
from portal.settings.step_fields import breaking_changes, drift_reason
from portal.syncs.config import ScheduleSpec
from portal.syncs.kintone_schema import FieldChange


def account_timezone(ctx: SectionContext) -> str:
    """The time zone conditions with fixed dates are read in (the account's)."""
    from portal.runs.service import connector_timezone

    return connector_timezone(ctx.session, ctx.connector.id)


@dataclass(frozen=True)
class CustomerSyncData:
    """Step5 as parsed: the settings, or None when the form had no Step5 (stored kept)."""

    settings: tuple[ParsedSetting, ...] | None
    kept_schedules: dict[str, ScheduleSpec | None] = field(default_factory=dict)


class CustomerSyncSection(Section):
    """Step5. 顧客情報連携設定 1 … 10."""

    key = "step5"
    order = 50
    title = "Step5. 顧客情報連携設定"
    template = "settings/_step5.html"
    refresh_on = (KINTONE_SYNCED, HAIHAI_SYNCED)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        settings = [row_values(ctx, row) for row in stored_rows(ctx)]
        return {"settings": settings or [default_values(1)]}

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        numbers = posted_numbers(form)
        if numbers is None:
            return self.stored_values(ctx)
        numbers = sorted({n for n in numbers if 1 <= n <= MAX_SETTINGS}) or [1]
        values: dict[str, Any] = {"settings": [posted_setting_values(form, n) for n in numbers]}
        # The page may switch 連携設定方法 before saving: the blocks follow the posted choice.
        method = form.get("haihai_method")
        if method in (HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED):
            values["method"] = method
        return values

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        fields = ctx.kintone_fields
        snapshot = ctx.haihai_snapshot
        summaries = {}
        for setting in values["settings"]:
            try:
                condition_set = condition_set_from_json(setting.conditions)
            except ValueError:
                summaries[setting.number] = {"invalid": True, **summarize(ConditionSet(), fields)}
                continue
            summaries[setting.number] = {"invalid": False, **summarize(condition_set, fields)}
        return {
            "synced": values.get("method", ctx.haihai_method) == HAIHAI_METHOD_SYNCED,
            "groups": list(snapshot.get("groups", [])),
            "step_plans": list(snapshot.get("step_plans", [])),
            "summaries": summaries,
            "count": len(values["settings"]),
            "max_settings": MAX_SETTINGS,
            "has_kintone_fields": bool(fields),
            "target_labels": TARGET_LABELS,
            "mode_labels": MODE_LABELS,
            "status_labels": STATUS_LABELS,
            "report_labels": REPORT_LABELS,
            "blank_labels": BLANK_LABELS,
            "target_id_labels": TARGET_ID_LABELS,
            "labels": {
                "overwrite": OVERWRITE_LABEL,
                "blank_rule": BLANK_RULE_LABEL,
                "stop_missing": STOP_MISSING_LABEL,
                "allow_present": ALLOW_PRESENT_LABEL,
            },
        }

    def parse(
        self, form: MultiDict, ctx: SectionContext
    ) -> tuple[CustomerSyncData, dict[str, str]]:
        numbers = posted_numbers(form)
        if numbers is None:
            kept = {
                process_key(row.number): schedule_support.stored_spec(
                    ctx.session, ctx.connector.id, process_key(row.number)
                )
                if row.timing == "schedule"
                else None
                for row in stored_rows(ctx)
            }
            return CustomerSyncData(None, kept), {}
        if not numbers_are_valid(numbers):
            return CustomerSyncData(()), {SETTINGS_ERROR: MSG_NUMBERS}
        tz = account_timezone(ctx)
        errors: dict[str, str] = {}
        parsed = []
        for number in numbers:
            setting, setting_errors = parse_setting(form, number, ctx, tz)
            parsed.append(setting)
            errors.update(setting_errors)
        return CustomerSyncData(tuple(parsed)), errors

    def store(self, ctx: SectionContext, data: CustomerSyncData) -> None:
        if data.settings is None:
            return
        existing = {row.number: row for row in stored_rows(ctx)}
        kept = set()
        for parsed in data.settings:
            number = parsed.setting.number
            row = existing.get(number) or CustomerSyncRow(
                connector_id=ctx.connector.id, number=number
            )
            write_row(row, parsed)
            ctx.session.add(row)
            kept.add(number)
        for number, row in existing.items():
            if number not in kept:
                ctx.session.delete(row)
        ctx.session.flush()

    def schedules(self, data: CustomerSyncData) -> dict[str, ScheduleSpec | None]:
        if data.settings is None:
            return dict(data.kept_schedules)
        specs: dict[str, ScheduleSpec | None] = {
            process_key(n): None for n in range(1, MAX_SETTINGS + 1)
        }
        for parsed in data.settings:
            setting = parsed.setting
            specs[process_key(setting.number)] = (
                setting.schedule if setting.timing == "schedule" else None
            )
        return specs

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        breaking = breaking_changes(changes)
        if not breaking:
            return []
        entries = []
        for row in stored_rows(ctx):
            condition_set = row_conditions(row)
            kept, listed = [], set()
            for condition in condition_set.conditions:
                change = breaking.get(condition.field_code)
                if change is None:
                    kept.append(condition)
                    continue
                if condition.field_code not in listed:
                    listed.add(condition.field_code)
                    entries.append(
                        DriftEntry(
                            group_title(row.number),
                            (msg.HEADER_KINTONE_FIELD, msg.HEADER_ERROR),
                            (change.old_label or change.code, drift_reason(change)),
                        )
                    )
            if len(kept) != len(condition_set.conditions):
                row.conditions = condition_set_to_json(
                    ConditionSet(condition_set.match, tuple(kept))
                )
                ctx.session.add(row)
        ctx.session.flush()
        return entries

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        removed = {
            "group": ({r.id: r.name for r in diff.removed_groups}, msg.HAIHAI_GROUP_DELETED),
            "step_plan": (
                {r.id: r.name for r in diff.removed_step_plans},
                msg.HAIHAI_STEP_PLAN_DELETED,
            ),
        }
        entries = []
        for row in stored_rows(ctx):
            gone, reason = removed.get(row.target_type, ({}, ""))
            if not row.target_id or row.target_id not in gone:
                continue
            entries.append(
                DriftEntry(
                    group_title(row.number),
                    (msg.HEADER_NAME, msg.HEADER_ID, msg.HEADER_ERROR),
                    (gone[row.target_id] or row.target_name, row.target_id, reason),
                )
            )
            row.target_id = None
            row.target_name = ""
            ctx.session.add(row)
        ctx.session.flush()
        return entries

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        rows = stored_rows(ctx)
        fields = MultiDict([(NUMBERS_FIELD, str(row.number)) for row in rows])
        for row in rows:
            for name, value in row_form_fields(ctx, row):
                fields.add(name, value)
        return fields

    def config_value(self, ctx: SectionContext) -> tuple[CustomerSyncSetting, ...]:
        rows = stored_rows(ctx)
        settings = []
        for row in rows:
            schedule = None
            if row.timing == "schedule":
                schedule = schedule_support.stored_spec(
                    ctx.session, ctx.connector.id, process_key(row.number)
                )
            settings.append(row_to_setting(row, schedule))
        return tuple(settings)
