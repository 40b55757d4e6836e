"""Step8. 顧客反応履歴情報取込連携: timing (毎日), 連携方式, the reaction app, 連携種別, 連携項目."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.event_import.app import EventAppRole
from portal.connector_types.haihai_kintone.event_import.fields import FixedField
from portal.connector_types.haihai_kintone.event_import.section import EventImportSection
from portal.connector_types.haihai_kintone.event_import.watermarks import load_watermarks
from portal.connector_types.haihai_kintone.reaction.config import (
    EVENT_TYPE_LABELS,
    METHOD_FULL,
    METHOD_LABELS,
    METHOD_LEGACY,
    REACTION,
    SECTION_KEY,
    ReactionSetting,
    method_fields,
    method_types,
)
from portal.models.event_imports import EventImportSettings
from portal.models.settings import HAIHAI_METHOD_SYNCED
from portal.settings.sections import SectionContext

MSG_HAIHAI_SYNC = "配配メール設定の同期を行ってください。"  # manual §2.1.3 step 11
MSG_CHOOSE_TYPES = "連携種別を1つ以上選択してください。"
MSG_METHOD = "連携方式を選択してください。"
MSG_LEGACY_TYPES = (
    "「メール開封、URLクリック」の連携方式では、メール開封とURLクリックのみ連携できます。"
)

REACTION_APP = EventAppRole(REACTION, SECTION_KEY, "Step8. 顧客反応履歴情報取込連携")


def _posted_types(form: MultiDict) -> list[str]:
    return [t for t in form.getlist("reaction_types") if t in EVENT_TYPE_LABELS]


class ReactionSection(EventImportSection):
    """Step8. 顧客反応履歴情報取込連携."""

    key = SECTION_KEY
    order = 80
    title = "Step8. 顧客反応履歴情報取込連携"
    template = "settings/_step8.html"
    role = REACTION_APP
    process_key = REACTION
    variant = "daily"
    group_title = "顧客反応履歴情報取込連携"

    def fixed_fields(self, ctx: SectionContext, extra: dict[str, Any]) -> Sequence[FixedField]:
        return method_fields(extra.get("method", METHOD_FULL))

    def maps_items(self, extra: dict[str, Any]) -> bool:
        # 付録4.4: the legacy method writes only its nine fields.
        return extra.get("method", METHOD_FULL) != METHOD_LEGACY

    def extra_stored(self, ctx: SectionContext, row: EventImportSettings) -> dict[str, Any]:
        method = row.reaction_method if row.reaction_method in METHOD_LABELS else METHOD_FULL
        types = [t for t in (row.event_types or ()) if t in method_types(method)]
        return {"method": method, "types": types, "legacy_allowed": row.legacy_method_allowed}

    def extra_posted(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        allowed = self.row(ctx).legacy_method_allowed
        method = form.get("reaction_method") or METHOD_FULL
        if method not in METHOD_LABELS or (method == METHOD_LEGACY and not allowed):
            method = METHOD_FULL
        return {"method": method, "types": _posted_types(form), "legacy_allowed": allowed}

    def extra_parse(
        self, form: MultiDict, ctx: SectionContext, timing: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        errors: dict[str, str] = {}
        allowed = self.row(ctx).legacy_method_allowed
        method = form.get("reaction_method") or METHOD_FULL
        if method not in METHOD_LABELS or (method == METHOD_LEGACY and not allowed):
            errors["reaction_method"] = MSG_METHOD
            method = METHOD_FULL
        types = _posted_types(form)
        if timing != "off":
            if not types:
                errors["reaction_types"] = MSG_CHOOSE_TYPES
            elif any(t not in method_types(method) for t in types):
                errors["reaction_types"] = MSG_LEGACY_TYPES
            if method == METHOD_FULL and not _haihai_synced(ctx):
                errors["reaction_method"] = MSG_HAIHAI_SYNC
        types = [t for t in types if t in method_types(method)]
        return {"method": method, "types": types, "legacy_allowed": allowed}, errors

    def extra_fields(self, row: EventImportSettings) -> list[tuple[str, str]]:
        method = row.reaction_method if row.reaction_method in METHOD_LABELS else METHOD_FULL
        return [("reaction_method", method)] + [
            ("reaction_types", t) for t in row.event_types or ()
        ]

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        """The app's snapshot, and whether the connector may keep the legacy 連携方式 (an
        operator's flag that moves with the connector)."""
        state = super().synced_state(ctx)
        if self.row(ctx).legacy_method_allowed:
            state = {**(state or {}), "legacy_method_allowed": True}
        return state

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            return super().restore_synced_state(ctx, data)
        row = self.row(ctx)
        row.legacy_method_allowed = data.get("legacy_method_allowed") is True
        ctx.session.add(row)
        if "fields" not in data:
            return {}
        return super().restore_synced_state(ctx, data)

    def extra_store(self, row: EventImportSettings, extra: dict[str, Any]) -> None:
        row.reaction_method = extra["method"]
        row.event_types = list(extra["types"])

    def extra_view(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        methods = [(METHOD_FULL, METHOD_LABELS[METHOD_FULL])]
        if values.get("legacy_allowed"):
            methods.insert(0, (METHOD_LEGACY, METHOD_LABELS[METHOD_LEGACY]))
        method = values.get("method", METHOD_FULL)
        return {
            "methods": methods,
            "type_choices": [(t, EVENT_TYPE_LABELS[t]) for t in method_types(method)],
            # Shown until the 配配メール settings were synced (the sync re-renders this Step).
            "needs_haihai_sync": method == METHOD_FULL and not ctx.haihai_snapshot,
        }

    def config_value(self, ctx: SectionContext) -> ReactionSetting:
        row = self.row(ctx)
        extra = self.extra_stored(ctx, row)
        common = self.common_config(ctx)
        if extra["method"] == METHOD_LEGACY:
            common["mappings"] = ()
        return ReactionSetting(
            method=extra["method"],
            types=tuple(extra["types"]),
            watermarks=load_watermarks(ctx.session, ctx.connector.id, REACTION),
            **common,
        )


def _haihai_synced(ctx: SectionContext) -> bool:
    """Whether Step2 uses the synced method and the 配配メール settings were synced."""
    return ctx.haihai_method == HAIHAI_METHOD_SYNCED and bool(ctx.haihai_snapshot)
