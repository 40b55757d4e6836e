"""Step9. Bridgeフォーム連携: timing (毎日 / 毎時 / 30分毎), the Bridge app, フォーム選択, 連携項目.

Offered only to 配配メール accounts on the Bridge plan whose settings were synced; otherwise the
Step is shown disabled with the reason and saved as 連携しない.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.bridge.config import (
    BRIDGE,
    FORMS_ALL,
    FORMS_SELECTED,
    MSG_NEEDS_BRIDGE_PLAN,
    MSG_NEEDS_SYNC,
    SECTION_KEY,
    BridgeSetting,
)
from portal.connector_types.haihai_kintone.event_import.app import EventAppRole
from portal.connector_types.haihai_kintone.event_import.fields import BRIDGE_FIELDS, FixedField
from portal.connector_types.haihai_kintone.event_import.section import EventImportSection
from portal.connector_types.haihai_kintone.event_import.watermarks import load_watermarks
from portal.models.event_imports import EventImportSettings
from portal.models.settings import HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings.haihai_drift import HaihaiDiff
from portal.settings.sections import DriftEntry, SectionContext

MSG_CHOOSE_FORMS = "連携するフォームを1つ以上選択してください。"
MSG_UNKNOWN_FORM = (
    "選択したフォームが配配メールにありません。「配配メール設定の同期」を行ってください。"
)

BRIDGE_APP = EventAppRole(BRIDGE, SECTION_KEY, "Step9. Bridgeフォーム連携")


def synced_forms(ctx: SectionContext) -> list[tuple[str, str]]:
    """(ID, name) of the Bridge forms as last synced."""
    return [(str(f["id"]), str(f["name"])) for f in ctx.haihai_snapshot.get("forms", [])]


def unavailable_reason(ctx: SectionContext) -> str | None:
    """Why Step9 cannot be used now (None when it can)."""
    snapshot = ctx.haihai_snapshot
    if ctx.haihai_method != HAIHAI_METHOD_SYNCED or not snapshot:
        return MSG_NEEDS_SYNC
    if not snapshot.get("bridge"):
        return MSG_NEEDS_BRIDGE_PLAN
    return None


class BridgeSection(EventImportSection):
    """Step9. Bridgeフォーム連携."""

    key = SECTION_KEY
    order = 90
    title = "Step9. Bridgeフォーム連携"
    template = "settings/_step9.html"
    role = BRIDGE_APP
    process_key = BRIDGE
    variant = "bridge"
    group_title = "Bridgeフォーム連携"

    def fixed_fields(self, ctx: SectionContext, extra: dict[str, Any]) -> Sequence[FixedField]:
        return BRIDGE_FIELDS

    def available(self, ctx: SectionContext) -> str | None:
        return unavailable_reason(ctx)

    def extra_stored(self, ctx: SectionContext, row: EventImportSettings) -> dict[str, Any]:
        mode = row.form_mode if row.form_mode in (FORMS_ALL, FORMS_SELECTED) else FORMS_ALL
        return {"form_mode": mode, "form_ids": list(row.form_ids or [])}

    def extra_posted(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        mode = form.get("bridge_form_mode") or FORMS_ALL
        return {
            "form_mode": mode if mode in (FORMS_ALL, FORMS_SELECTED) else FORMS_ALL,
            "form_ids": form.getlist("bridge_forms"),
        }

    def extra_parse(
        self, form: MultiDict, ctx: SectionContext, timing: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        values = self.extra_posted(form, ctx)
        known = {form_id for form_id, _name in synced_forms(ctx)}
        errors: dict[str, str] = {}
        if values["form_mode"] == FORMS_SELECTED:
            if any(form_id not in known for form_id in values["form_ids"]):
                errors["bridge_forms"] = MSG_UNKNOWN_FORM
            elif not values["form_ids"] and timing != "off":
                errors["bridge_forms"] = MSG_CHOOSE_FORMS
        else:
            values["form_ids"] = []
        values["form_ids"] = [f for f in values["form_ids"] if f in known]
        return values, errors

    def extra_fields(self, row: EventImportSettings) -> list[tuple[str, str]]:
        mode = row.form_mode if row.form_mode in (FORMS_ALL, FORMS_SELECTED) else FORMS_ALL
        return [("bridge_form_mode", mode)] + [("bridge_forms", f) for f in row.form_ids or ()]

    def extra_store(self, row: EventImportSettings, extra: dict[str, Any]) -> None:
        row.form_mode = extra["form_mode"]
        row.form_ids = list(extra["form_ids"])

    def extra_view(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return {"forms": synced_forms(ctx)}

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        entries = super().on_haihai_drift(ctx, diff)
        removed = {r.id: r for r in diff.removed_forms}
        row = ctx.session.get(EventImportSettings, (ctx.connector.id, BRIDGE))
        if row is None or not removed or not row.form_ids:
            return entries
        kept = []
        for form_id in row.form_ids:
            if form_id in removed:
                entries.append(
                    DriftEntry(
                        f"{self.group_title} フォーム選択",
                        (msg.HEADER_NAME, msg.HEADER_ID, msg.HEADER_ERROR),
                        (removed[form_id].name, form_id, msg.HAIHAI_FORM_DELETED),
                    )
                )
            else:
                kept.append(form_id)
        row.form_ids = kept
        ctx.session.add(row)
        return entries

    def config_value(self, ctx: SectionContext) -> BridgeSetting:
        row = self.row(ctx)
        extra = self.extra_stored(ctx, row)
        return BridgeSetting(
            form_mode=extra["form_mode"],
            form_ids=tuple(extra["form_ids"]),
            forms=tuple(synced_forms(ctx)),
            unavailable=unavailable_reason(ctx),
            watermarks=load_watermarks(ctx.session, ctx.connector.id, BRIDGE),
            **self.common_config(ctx),
        )
