"""What Step8 and Step9 share: 連携タイミング, the process's own kintone app, the 「連携項目」 of
配配メール database items, their storage and their drift (付録6.1, 6.2).

A subclass adds its own inputs (連携方式 and 連携種別 for Step8, フォーム選択 for Step9) through
`extra_*` hooks and builds its configuration object in `config_value`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import delete, select
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.event_import import mapping as rules
from portal.connector_types.haihai_kintone.event_import.app import (
    EventAppRole,
    app_access,
    settings_row,
)
from portal.connector_types.haihai_kintone.event_import.fields import FixedField, check_app
from portal.crypto import mask
from portal.models.common import utcnow
from portal.models.event_imports import EventImportMapping, EventImportSettings
from portal.models.settings import HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings import schedule_support
from portal.settings.haihai_drift import HaihaiDiff
from portal.settings.mapping import MappingRow
from portal.settings.sections import HAIHAI_SYNCED, DriftEntry, Section, SectionContext
from portal.settings.step_fields import (
    TIMINGS,
    shown_secret,
    split_broken_rows,
    sync_view,
)
from portal.settings.synced_state import MSG_NOT_MAPPING, parse_kintone_state
from portal.syncs.kintone_schema import FieldChange

MSG_APP_SYNC_NEEDED = "「kintone項目の同期」を行ってください。"
MSG_APP_SYNC_STALE = "kintone アプリIDが変更されています。「kintone項目の同期」を行ってください。"
MSG_APP_FIELDS = "連携先のkintoneアプリに必要なフィールドがありません。「アプリを確認」で内容を確認してください。"


@dataclass
class EventSectionData:
    """What 「保存」 stores for an import process."""

    timing: str
    schedule: Any
    app_id: str
    api_token: str | None
    rows: list[MappingRow] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    unchanged: bool = False  # the form did not show this Step: store nothing


class EventImportSection(Section):
    """Base of the Step8 / Step9 sections."""

    role: EventAppRole
    process_key: str = ""
    variant: str = "daily"  # schedule editor variant
    group_title: str = ""  # the process's name; its mapping lines in 同期結果詳細 use mapping_group
    refresh_on = (HAIHAI_SYNCED,)

    def __init__(self) -> None:
        self.role.bind_drift(self.on_app_drift)

    @property
    def mapping_group(self) -> str:
        """Heading of the 同期結果詳細 lines about its 連携項目."""
        return f"{self.group_title} 連携項目"

    # -- hooks of the subclasses ---------------------------------------------------------

    def fixed_fields(self, ctx: SectionContext, extra: dict[str, Any]) -> Sequence[FixedField]:
        """The fixed fields for the settings in `extra` (the 連携方式 may change them)."""
        raise NotImplementedError

    def maps_items(self, extra: dict[str, Any]) -> bool:
        """Whether 配配メール database items may be mapped with these settings."""
        return True

    def extra_stored(self, ctx: SectionContext, row: EventImportSettings) -> dict[str, Any]:
        """The subclass's own template values from storage."""
        return {}

    def extra_posted(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        """The subclass's own template values from a posted form."""
        return {}

    def extra_parse(
        self, form: MultiDict, ctx: SectionContext, timing: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Validate the subclass's own inputs."""
        return {}, {}

    def extra_store(self, row: EventImportSettings, extra: dict[str, Any]) -> None:
        """Write the subclass's own values."""

    def extra_view(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        """The subclass's own template variables."""
        return {}

    def available(self, ctx: SectionContext) -> str | None:
        """None when the process can be configured, else why not (shown, inputs disabled)."""
        return None

    def extra_fields(self, row: EventImportSettings) -> list[tuple[str, str]]:
        """The subclass's own stored values as the fields the page posts (export)."""
        return []

    @property
    def secret_fields(self) -> tuple[str, ...]:  # type: ignore[override]
        """The app's API token (exported only when asked)."""
        return (f"{self.role.prefix}_api_token",)

    # -- storage -------------------------------------------------------------------------

    def row(self, ctx: SectionContext) -> EventImportSettings:
        """The stored settings row (a new one, not added, when nothing was saved)."""
        return settings_row(ctx.session, ctx.connector.id, self.role.key)

    def stored_rows(self, ctx: SectionContext) -> list[MappingRow]:
        """The stored mapping rows in order (item names as last synced)."""
        records = ctx.session.exec(
            select(EventImportMapping)
            .where(
                EventImportMapping.connector_id == ctx.connector.id,
                EventImportMapping.role == self.role.key,
            )
            .order_by(EventImportMapping.position, EventImportMapping.id)
        ).all()
        return [MappingRow(r.kintone_code, r.haihai_item, r.haihai_item_id or "") for r in records]

    def replace_rows(self, ctx: SectionContext, rows: Sequence[MappingRow]) -> None:
        """Make `rows` the process's complete mapping."""
        ctx.session.exec(
            delete(EventImportMapping).where(
                EventImportMapping.connector_id == ctx.connector.id,
                EventImportMapping.role == self.role.key,
            )
        )
        ctx.session.flush()
        for position, row in enumerate(rows):
            ctx.session.add(
                EventImportMapping(
                    connector_id=ctx.connector.id,
                    role=self.role.key,
                    position=position,
                    kintone_code=row.kintone_code,
                    haihai_item=row.haihai_item,
                    haihai_item_id=row.haihai_item_id or None,
                )
            )
        ctx.session.flush()

    def app_fields(self, ctx: SectionContext) -> dict[str, Any]:
        """The process app's fields as last synced."""
        return dict(self.row(ctx).app_fields or {})

    # -- values and view -----------------------------------------------------------------

    def extra_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """The subclass's own part of template values (see extra_stored / extra_posted)."""
        own = ("schedule", "rows", f"{self.role.prefix}_app_id", f"{self.role.prefix}_api_token")
        return {k: v for k, v in values.items() if k not in own}

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        row = self.row(ctx)
        timing = row.timing if row.timing in TIMINGS else "off"
        return {
            "schedule": schedule_support.stored_editor(
                ctx.session, ctx.connector.id, self.process_key, timing, self.variant
            ),
            f"{self.role.prefix}_app_id": row.app_id,
            f"{self.role.prefix}_api_token": mask(row.api_token),
            "rows": self.stored_rows(ctx),
            **self.extra_stored(ctx, row),
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        prefix = self.role.prefix
        return {
            "schedule": schedule_support.posted_editor(form, self.process_key, self.variant),
            f"{prefix}_app_id": form.get(f"{prefix}_app_id", ""),
            # Never a token, not even one just typed (the browser keeps what was typed).
            f"{prefix}_api_token": shown_secret(self.row(ctx).api_token),
            "rows": rules.rows_from_form(form, prefix),
            **self.extra_posted(form, ctx),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        row = self.row(ctx)
        fields = dict(row.app_fields or {})
        extra = self.extra_of(values)
        fixed = self.fixed_fields(ctx, extra)
        rows = rules.with_item_names(values["rows"], ctx.haihai_snapshot)
        view = sync_view(row.app_synced_at, row.app_sync_report)
        view.update(
            {
                "prefix": self.role.prefix,
                "process_key": self.process_key,
                "variant": self.variant,
                "app_name": row.app_name,
                "field_count": len(fields),
                "has_app_fields": bool(fields),
                "drift_headline": msg.KINTONE_DRIFT_HEADLINE,
                "problems": check_app(fields, fixed, [r.kintone_code for r in rows])
                if fields
                else [],
                "fixed": fixed,
                "rows": rules.describe_rows(rows, fields),
                "maps_items": self.maps_items(extra),
                "unavailable": self.available(ctx),
            }
        )
        view.update(self.extra_view(ctx, values))
        return view

    # -- 「保存」 ---------------------------------------------------------------------------

    def _stored_data(self, ctx: SectionContext, *, switch_off: bool) -> EventSectionData:
        row = self.row(ctx)
        timing = row.timing if row.timing in TIMINGS and not switch_off else "off"
        spec = None
        if timing == "schedule":
            spec = schedule_support.stored_spec(ctx.session, ctx.connector.id, self.process_key)
        data = EventSectionData(timing, spec, row.app_id, row.api_token, self.stored_rows(ctx))
        data.extra = self.extra_stored(ctx, row)
        return data

    def parse(
        self, form: MultiDict, ctx: SectionContext
    ) -> tuple[EventSectionData, dict[str, str]]:
        if self.available(ctx) is not None:
            # The inputs are disabled: keep what is stored, switched off.
            return self._stored_data(ctx, switch_off=True), {}
        if f"{self.process_key}-timing" not in form:
            # A client that does not show this Step leaves it (and its schedule) unchanged.
            data = self._stored_data(ctx, switch_off=False)
            data.unchanged = True
            return data, {}
        timing, spec, errors = schedule_support.parse_timing(form, self.process_key, self.variant)
        timing = timing or "off"
        prefix = self.role.prefix
        access, access_errors = self.role.parse(ctx, form)
        extra, extra_errors = self.extra_parse(form, ctx, timing)
        errors.update(extra_errors)
        rows = rules.with_item_names(rules.rows_from_form(form, prefix), ctx.haihai_snapshot)
        if not self.maps_items(extra):
            rows = []
        data = EventSectionData(timing, spec, access.app_id, access.api_token, rows, extra)
        if timing == "off":
            # Nothing runs: keep whatever was entered, but never store a malformed value.
            for name in (f"{prefix}_app_id", f"{prefix}_api_token"):
                if name in access_errors and form.get(name, "").strip():
                    errors[name] = access_errors[name]
            if f"{prefix}_app_id" in errors or not access.app_id:
                data.app_id = self.row(ctx).app_id
            if access.api_token is None:
                data.api_token = self.row(ctx).api_token
            return data, errors
        errors.update(access_errors)
        self._check_app(ctx, data, fixed=self.fixed_fields(ctx, extra), errors=errors)
        posted_rows = rules.rows_from_form(form, prefix) if self.maps_items(extra) else []
        errors.update(
            rules.validate_rows(
                posted_rows,
                prefix,
                app_fields=self.app_fields(ctx),
                fixed={f.code for f in self.fixed_fields(ctx, extra)},
                snapshot=ctx.haihai_snapshot,
            )
        )
        return data, errors

    def _check_app(
        self,
        ctx: SectionContext,
        data: EventSectionData,
        *,
        fixed: Sequence[FixedField],
        errors: dict[str, str],
    ) -> None:
        prefix = self.role.prefix
        if f"{prefix}_app_id" in errors or f"{prefix}_sync" in errors:
            return
        connection = self.role.stored(ctx)
        source = connection.source
        if not connection.fields or source is None:
            errors[f"{prefix}_sync"] = MSG_APP_SYNC_NEEDED
        elif source.get("app_id") != data.app_id or source.get("subdomain") != self.role.subdomain(
            ctx
        ):
            errors[f"{prefix}_sync"] = MSG_APP_SYNC_STALE
        elif any(p.blocks_runs for p in check_app(connection.fields, fixed)):
            errors[f"{prefix}_sync"] = MSG_APP_FIELDS

    def store(self, ctx: SectionContext, data: EventSectionData) -> None:
        if data.unchanged:
            return
        row = self.row(ctx)
        row.timing = data.timing
        row.app_id = data.app_id
        if data.api_token != row.api_token:
            row.api_token = data.api_token
        self.extra_store(row, data.extra)
        row.updated_at = utcnow()
        ctx.session.add(row)
        self.replace_rows(ctx, data.rows)

    def schedules(self, data: EventSectionData) -> dict[str, Any]:
        return {self.process_key: data.schedule if data.timing == "schedule" else None}

    # -- export / import -----------------------------------------------------------------

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        """The stored settings as the fields this Step posts (secrets in clear)."""
        row = self.row(ctx)
        prefix = self.role.prefix
        timing = row.timing if row.timing in TIMINGS else "off"
        pairs = schedule_support.editor_fields(
            ctx.session, ctx.connector.id, self.process_key, self.process_key, timing, self.variant
        )
        pairs += [(f"{prefix}_app_id", row.app_id), (f"{prefix}_api_token", row.api_token or "")]
        for index, mapped in enumerate(self.stored_rows(ctx)):
            pairs.append((f"{prefix}_map-{index}-kintone", mapped.kintone_code))
            pairs.append((f"{prefix}_map-{index}-haihai_id", mapped.haihai_item_id))
        pairs += self.extra_fields(row)
        return MultiDict(pairs)

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        """The app's fields as 「kintone項目の同期」 fetched them (None before any sync)."""
        row = ctx.session.get(EventImportSettings, (ctx.connector.id, self.role.key))
        if row is None or row.app_fields is None:
            return None
        return {
            "synced_at": row.app_synced_at.isoformat() if row.app_synced_at else None,
            "app_name": row.app_name,
            "fields": row.app_fields,
            "report": row.app_sync_report,
        }

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        """Store an exported app snapshot back (import) → {sub-path: message}."""
        if not isinstance(data, Mapping):
            return {"": MSG_NOT_MAPPING}
        values, errors = parse_kintone_state(data)
        if errors:
            return errors
        row = self.row(ctx)
        row.app_fields = values["fields"]
        row.app_name = values["app_name"]
        row.app_synced_at = values["synced_at"]
        row.app_sync_report = values["report"]
        ctx.session.add(row)
        return {}

    # -- drift ---------------------------------------------------------------------------

    def on_app_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        """A re-sync of the process's app: mapped fields it breaks are removed (付録6.1)."""
        kept, entries = split_broken_rows(self.stored_rows(ctx), changes, self.mapping_group)
        if entries:
            self.replace_rows(ctx, kept)
        return entries

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        removed = {r.id: r for r in diff.removed_items}
        renamed = {r.id: r for r in diff.renamed_items}
        rows, entries = [], []
        labels = {c: str(p.get("label", c)) for c, p in self.app_fields(ctx).items()}
        changed = False
        for row in self.stored_rows(ctx):
            if row.haihai_item_id in removed:
                entries.append(
                    DriftEntry(
                        self.mapping_group,
                        (msg.HEADER_KINTONE_FIELD, msg.HEADER_HAIHAI_ITEM, msg.HEADER_ERROR),
                        (
                            labels.get(row.kintone_code, row.kintone_code),
                            removed[row.haihai_item_id].name,
                            msg.HAIHAI_ITEM_DELETED,
                        ),
                    )
                )
                row, changed = MappingRow(row.kintone_code), True
            elif row.haihai_item_id in renamed:
                new_name = renamed[row.haihai_item_id].new_name
                row, changed = MappingRow(row.kintone_code, new_name, row.haihai_item_id), True
            rows.append(row)
        if changed:
            self.replace_rows(ctx, rows)
        return entries

    # -- configuration -------------------------------------------------------------------

    def item_mappings(self, ctx: SectionContext) -> tuple[rules.ItemMapping, ...]:
        """The mapped items a run writes (rows whose item was cleared are left out)."""
        fields = self.app_fields(ctx)
        return tuple(
            rules.ItemMapping(
                kintone_code=row.kintone_code,
                kintone_type=str((fields.get(row.kintone_code) or {}).get("type", "")),
                haihai_item=row.haihai_item,
                haihai_item_id=row.haihai_item_id,
            )
            for row in rules.with_item_names(self.stored_rows(ctx), ctx.haihai_snapshot)
            if row.haihai_item_id
        )

    def common_config(self, ctx: SectionContext) -> dict[str, Any]:
        """The configuration every import process has: timing, schedule, app, mappings."""
        row = self.row(ctx)
        timing = row.timing if row.timing in TIMINGS else "off"
        schedule = None
        if timing == "schedule":
            schedule = schedule_support.stored_spec(ctx.session, ctx.connector.id, self.process_key)
        return {
            "timing": timing,
            "schedule": schedule,
            "app": app_access(ctx.app_config, ctx.settings.kintone_subdomain, row),
            "app_fields": dict(row.app_fields or {}),
            "mappings": self.item_mappings(ctx),
            "haihai_synced": ctx.settings.haihai_method == HAIHAI_METHOD_SYNCED
            and bool(ctx.haihai_snapshot),
        }
