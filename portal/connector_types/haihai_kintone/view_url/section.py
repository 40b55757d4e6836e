"""Step7. 顧客閲覧URL連携: timing and the kintone field that receives each customer's URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.view_url.config import ViewUrlSetting
from portal.models.settings import ViewUrlSettingsRow
from portal.settings import messages as msg
from portal.settings import schedule_support
from portal.settings.sections import (
    KINTONE_SYNCED,
    DriftEntry,
    Section,
    SectionContext,
    claims_parsed_before,
)
from portal.settings.step_fields import TIMINGS, breaking_changes, drift_reason
from portal.syncs.field_claims import collision
from portal.syncs.kintone_schema import FieldChange, type_label

VIEW_URL_PROCESS = "view_url"
VIEW_URL_FIELD_TYPES = ("SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "LINK")


@dataclass(frozen=True)
class ViewUrlData:
    """Step7 values: timing, schedule and the kintone field receiving the URL."""

    timing: str
    schedule: Any
    target_field: str | None


def view_url_candidates(kintone_fields: dict[str, Any]) -> list[dict[str, str]]:
    """Fields of the synced app that may receive the URL (付録3: 文字列(1行)/(複数行)/リンク)."""
    return [
        {
            "code": code,
            "label": str(prop.get("label", code)),
            "type_label": type_label(prop["type"]),
        }
        for code, prop in kintone_fields.items()
        if prop.get("type") in VIEW_URL_FIELD_TYPES
    ]


class ViewUrlSection(Section):
    """Step7. 顧客閲覧URL連携."""

    key = "step7"
    order = 70
    title = "Step7. 顧客閲覧URL連携"
    template = "settings/_step7.html"
    refresh_on = (KINTONE_SYNCED,)
    group_title = "顧客閲覧URL連携"

    def _row(self, ctx: SectionContext) -> ViewUrlSettingsRow:
        return ctx.session.get(ViewUrlSettingsRow, ctx.connector.id) or ViewUrlSettingsRow(
            connector_id=ctx.connector.id
        )

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        row = self._row(ctx)
        return {
            "schedule": schedule_support.stored_editor(
                ctx.session, ctx.connector.id, VIEW_URL_PROCESS, row.timing
            ),
            "view_url_target": row.target_field or "",
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        return {
            "schedule": schedule_support.posted_editor(form, VIEW_URL_PROCESS),
            "view_url_target": form.get("view_url_target", ""),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "candidates": view_url_candidates(ctx.kintone_fields),
            "has_kintone_fields": bool(ctx.kintone_fields),
            "prefix": VIEW_URL_PROCESS,
        }

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[ViewUrlData, dict[str, str]]:
        timing, spec, errors = schedule_support.parse_timing(form, VIEW_URL_PROCESS)
        target = (form.get("view_url_target") or "").strip() or None
        if timing in ("manual", "schedule"):
            prop = ctx.kintone_fields.get(target) if target else None
            if target is None:
                errors["view_url_target"] = msg.VIEW_URL_FIELD_REQUIRED
            elif prop is None or prop.get("type") not in VIEW_URL_FIELD_TYPES:
                errors["view_url_target"] = msg.VIEW_URL_FIELD_TYPE
            elif used := collision(target, claims_parsed_before(ctx, self), ctx.kintone_fields):
                errors["view_url_target"] = msg.VIEW_URL_FIELD_IN_USE.format(use=used)
        return ViewUrlData(timing or "off", spec, target), errors

    def store(self, ctx: SectionContext, data: ViewUrlData) -> None:
        row = self._row(ctx)
        row.timing = data.timing
        row.target_field = data.target_field
        ctx.session.add(row)

    def schedules(self, data: ViewUrlData) -> dict[str, Any]:
        return {VIEW_URL_PROCESS: data.schedule if data.timing == "schedule" else None}

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        row = ctx.session.get(ViewUrlSettingsRow, ctx.connector.id)
        if row is None or not row.target_field:
            return []
        change = breaking_changes(changes).get(row.target_field)
        if change is None:
            return []
        row.target_field = None
        ctx.session.add(row)
        return [
            DriftEntry(
                self.group_title,
                (msg.HEADER_KINTONE_FIELD, msg.HEADER_ERROR),
                (change.old_label or change.code, drift_reason(change)),
            )
        ]

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        row = self._row(ctx)
        fields = MultiDict(
            schedule_support.editor_fields(
                ctx.session, ctx.connector.id, VIEW_URL_PROCESS, VIEW_URL_PROCESS, row.timing
            )
        )
        if row.target_field:
            fields.add("view_url_target", row.target_field)
        return fields

    def config_value(self, ctx: SectionContext) -> ViewUrlSetting:
        row = self._row(ctx)
        timing = row.timing if row.timing in TIMINGS else "off"
        schedule = None
        if timing == "schedule":
            schedule = schedule_support.stored_spec(ctx.session, ctx.connector.id, VIEW_URL_PROCESS)
        return ViewUrlSetting(
            timing=timing,  # type: ignore[arg-type]
            schedule=schedule,
            target_field=row.target_field,
        )
