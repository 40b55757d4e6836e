"""Step5's storage: one `customer_sync_settings` row per setting, read back as the typed
setting, as the values a block shows, or as the fields the page posts (export)."""

from __future__ import annotations

from sqlmodel import select

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    condition_set_from_json,
    condition_set_to_json,
    conditions_json_text,
)
from portal.connector_types.haihai_kintone.customer.config import ConditionSet, CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.setting_form import (
    MODE_LABELS,
    REPORT_LABELS,
    STATUS_LABELS,
    TARGET_LABELS,
    TIMINGS,
    ParsedSetting,
    SettingValues,
    field_name,
    process_key,
    schedule_prefix,
)
from portal.models.customer_syncs import CustomerSyncRow
from portal.settings import schedule_support
from portal.settings.sections import SectionContext
from portal.syncs.config import ScheduleSpec


def stored_rows(ctx: SectionContext) -> list[CustomerSyncRow]:
    """The connector's stored settings, by number."""
    return list(
        ctx.session.exec(
            select(CustomerSyncRow)
            .where(CustomerSyncRow.connector_id == ctx.connector.id)
            .order_by(CustomerSyncRow.number)
        ).all()
    )


def row_conditions(row: CustomerSyncRow) -> ConditionSet:
    """A stored row's conditions (an unreadable value counts as none)."""
    try:
        return condition_set_from_json(row.conditions)
    except ValueError:
        return ConditionSet()


def row_to_setting(
    row: CustomerSyncRow, schedule: ScheduleSpec | None = None
) -> CustomerSyncSetting:
    """The typed setting of a stored row."""
    timing = row.timing if row.timing in TIMINGS else "off"
    return CustomerSyncSetting(
        number=row.number,
        timing=timing,  # type: ignore[arg-type]
        schedule=schedule if timing == "schedule" else None,
        target_type=row.target_type if row.target_type in TARGET_LABELS else "database",  # type: ignore[arg-type]
        target_id=row.target_id or None,
        conditions=row_conditions(row),
        mode=row.mode if row.mode in MODE_LABELS else "register",  # type: ignore[arg-type]
        status_change=row.status_change if row.status_change in STATUS_LABELS else None,  # type: ignore[arg-type]
        overwrite=row.overwrite,
        blank_overwrites=row.blank_overwrites,
        stop_missing=row.stop_missing,
        allow_present=row.allow_present,
        report_mail=row.report_mail if row.report_mail in REPORT_LABELS else "never",  # type: ignore[arg-type]
    )


def write_row(row: CustomerSyncRow, parsed: ParsedSetting) -> None:
    """Store a parsed setting into its row."""
    setting = parsed.setting
    row.timing = setting.timing
    row.target_type = setting.target_type
    row.target_id = setting.target_id
    row.target_name = parsed.target_name[:255]
    row.mode = setting.mode
    row.status_change = setting.status_change
    row.overwrite = setting.overwrite
    row.blank_overwrites = setting.blank_overwrites
    row.stop_missing = setting.stop_missing
    row.allow_present = setting.allow_present
    row.report_mail = setting.report_mail
    row.conditions = condition_set_to_json(setting.conditions)


def row_values(ctx: SectionContext, row: CustomerSyncRow) -> SettingValues:
    """Template values of a stored row."""
    return SettingValues(
        number=row.number,
        schedule=schedule_support.stored_editor(
            ctx.session, ctx.connector.id, process_key(row.number), row.timing
        ),
        target_type=row.target_type,
        target_id=row.target_id or "",
        mode=row.mode,
        status_change=row.status_change or "",
        overwrite=row.overwrite,
        blank="blank" if row.blank_overwrites else "keep",
        stop_missing=row.stop_missing,
        allow_present=row.allow_present,
        report_mail=row.report_mail,
        conditions=conditions_json_text(row_conditions(row)),
    )


def row_form_fields(ctx: SectionContext, row: CustomerSyncRow) -> list[tuple[str, str]]:
    """The fields the page posts for a stored setting (only the options that apply)."""
    number = row.number
    pairs = schedule_support.editor_fields(
        ctx.session, ctx.connector.id, schedule_prefix(number), process_key(number), row.timing
    )

    def put(name: str, value: str | bool | None) -> None:
        if value is True:
            pairs.append((field_name(number, name), "1"))
        elif value:
            pairs.append((field_name(number, name), value))

    put("target_type", row.target_type)
    put("target_id", row.target_id)
    put("mode", row.mode)
    put("status_change", row.status_change)
    put("overwrite", row.overwrite)
    if row.overwrite:
        put("blank", "blank" if row.blank_overwrites else "keep")
    put("stop_missing", row.stop_missing)
    put("allow_present", row.allow_present)
    put("report_mail", row.report_mail)
    conditions = row_conditions(row)
    if conditions != ConditionSet():
        put("conditions", conditions_json_text(conditions))
    return pairs
