"""Step4. 連携項目設定: the shared section whose rows are edited in the 「連携項目の設定」 dialog
(rules in portal.settings.mapping; the rows live in `field_mappings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import delete, select
from werkzeug.datastructures import MultiDict

from portal.models.settings import (
    DEFAULT_EMAIL_DISPLAY_NAME,
    HAIHAI_METHOD_MANUAL,
    HAIHAI_METHOD_SYNCED,
    FieldMappingRow,
)
from portal.settings import messages as msg
from portal.settings.haihai_drift import HaihaiDiff, item_type_label
from portal.settings.mapping import (
    MappingRow,
    addable_fields,
    describe_rows,
    effective_email_name,
    resolve_names,
    rows_from_form,
    rows_to_form,
    validate_rows,
)
from portal.settings.sections import (
    HAIHAI_SYNCED,
    KINTONE_SYNCED,
    DriftEntry,
    Section,
    SectionContext,
)
from portal.settings.step_fields import TEXT_MAX, checked, split_broken_rows
from portal.syncs.config import FieldMapping
from portal.syncs.field_claims import mapping_claims
from portal.syncs.kintone_schema import FieldChange, recommended_haihai_type


@dataclass(frozen=True)
class MappingData:
    """Step4 values: the rows (email row first) and the renamed email display name."""

    rows: list[MappingRow] = field(default_factory=list)
    email_custom: bool = False
    email_display_name: str = ""


def stored_rows(ctx: SectionContext) -> list[MappingRow]:
    """The stored mapping rows in order (email row first)."""
    records = ctx.session.exec(
        select(FieldMappingRow)
        .where(FieldMappingRow.connector_id == ctx.connector.id)
        .order_by(FieldMappingRow.position, FieldMappingRow.id)
    ).all()
    return [MappingRow(r.kintone_code, r.haihai_item, r.haihai_item_id or "") for r in records]


def mapping_view(
    rows: list[MappingRow], ctx: SectionContext, method: str | None = None
) -> dict[str, Any]:
    """Template values shared by the Step4 summary and the 「連携項目の設定」 dialog."""
    snapshot = ctx.haihai_snapshot
    method = method or ctx.haihai_method
    items = [
        {
            "id": str(item["id"]),
            "label": item["label"],
            "type_label": item_type_label(item.get("type", "")),
            "is_email": bool(item.get("is_email")),
        }
        for item in snapshot.get("items", [])
    ]
    return {
        "rows": [
            # 付録1.1's recommendation names the 配配メール item type for a kintone type; the email
            # row always goes to 配配メール's own 「メールアドレス」 item, so it gets none.
            {
                **row,
                "recommended": None
                if row["is_email"]
                else recommended_haihai_type(row["kintone_type"]),
            }
            for row in describe_rows(rows, ctx.kintone_fields)
        ],
        "addable": addable_fields(rows, ctx.kintone_fields),
        "haihai_items": items,
        "method": method,
        "synced": method == HAIHAI_METHOD_SYNCED,
        "has_kintone_fields": bool(ctx.kintone_fields),
        "has_haihai_items": bool(items),
    }


class MappingSection(Section):
    """Step4. 連携項目設定 (the rows are edited in the 「連携項目の設定」 dialog)."""

    key = "step4"
    order = 40
    title = "Step4. 連携項目設定"
    template = "settings/_step4.html"
    refresh_on = (KINTONE_SYNCED, HAIHAI_SYNCED)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        s = ctx.settings
        return {
            "rows": stored_rows(ctx),
            "email_custom": s.email_display_name_custom,
            "email_display_name": s.email_display_name,
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        return {
            "rows": rows_from_form(form),
            "email_custom": checked(form, "email_custom"),
            "email_display_name": form.get("email_display_name", ""),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return mapping_view(values["rows"], ctx)

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[MappingData, dict[str, str]]:
        method = ctx.haihai_method
        rows = rows_from_form(form)
        if method == HAIHAI_METHOD_SYNCED:
            rows = resolve_names(rows, ctx.haihai_snapshot)
        custom = checked(form, "email_custom") and method == HAIHAI_METHOD_MANUAL
        name = (form.get("email_display_name") or "").strip()
        errors = validate_rows(
            rows,
            method=method,
            kintone_fields=ctx.kintone_fields,
            snapshot=ctx.haihai_snapshot,
            email_custom=custom,
            email_display_name=name,
        )
        if name and len(name) > TEXT_MAX:
            errors["email_display_name"] = msg.TEXT_TOO_LONG
        return MappingData(rows, custom, name if custom else ""), errors

    def claimed_fields(self, ctx: SectionContext, data: MappingData) -> dict[str, str]:
        rows = data.rows or stored_rows(ctx)
        return mapping_claims(
            (r.kintone_code for r in rows), rows[0].kintone_code if rows else None
        )

    def store(self, ctx: SectionContext, data: MappingData) -> None:
        replace_mapping_rows(ctx, data.rows)
        ctx.settings.email_display_name_custom = data.email_custom
        ctx.settings.email_display_name = data.email_display_name
        ctx.session.add(ctx.settings)

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        fields = MultiDict(rows_to_form(stored_rows(ctx)))
        if ctx.settings.email_display_name_custom:
            fields.add("email_custom", "1")
            fields.add("email_display_name", ctx.settings.email_display_name)
        return fields

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        kept, entries = split_broken_rows(stored_rows(ctx), changes, msg.GROUP_MAPPINGS)
        if entries:
            replace_mapping_rows(ctx, kept)
        return entries

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        removed = {r.id: r for r in diff.removed_items}
        renamed = {r.id: r for r in diff.renamed_items}
        if not removed and not renamed:
            return []
        rows, entries = [], []
        labels = {c: str(p.get("label", c)) for c, p in ctx.kintone_fields.items()}
        for row in stored_rows(ctx):
            if row.haihai_item_id in removed:
                entries.append(
                    DriftEntry(
                        msg.GROUP_MAPPINGS,
                        (msg.HEADER_KINTONE_FIELD, msg.HEADER_HAIHAI_ITEM, msg.HEADER_ERROR),
                        (
                            labels.get(row.kintone_code, row.kintone_code),
                            removed[row.haihai_item_id].name,
                            msg.HAIHAI_ITEM_DELETED,
                        ),
                    )
                )
                row = MappingRow(row.kintone_code)
            elif row.haihai_item_id in renamed:
                row = MappingRow(
                    row.kintone_code, renamed[row.haihai_item_id].new_name, row.haihai_item_id
                )
            rows.append(row)
        replace_mapping_rows(ctx, rows)
        return entries

    def config_values(self, ctx: SectionContext) -> dict[str, Any]:
        fields = ctx.kintone_fields
        mappings = []
        for index, row in enumerate(stored_rows(ctx)):
            if not row.haihai_item:
                continue  # cleared by a 配配メール re-sync: not sent until chosen again
            prop = fields.get(row.kintone_code) or {}
            mappings.append(
                FieldMapping(
                    kintone_code=row.kintone_code,
                    kintone_type=str(prop.get("type", "")),
                    kintone_label=str(prop.get("label", row.kintone_code)),
                    haihai_item=row.haihai_item,
                    is_email=index == 0,
                )
            )
        email = next((m for m in mappings if m.is_email), None)
        if email is not None:
            display = email.haihai_item
        elif ctx.settings.haihai_method == HAIHAI_METHOD_MANUAL:
            display = effective_email_name(
                ctx.settings.email_display_name_custom, ctx.settings.email_display_name
            )
        else:
            display = DEFAULT_EMAIL_DISPLAY_NAME
        return {"mappings": tuple(mappings), "email_display_name": display}


def replace_mapping_rows(ctx: SectionContext, rows: list[MappingRow]) -> None:
    """Make `rows` the connector's complete mapping (positions follow the list order)."""
    ctx.session.exec(
        delete(FieldMappingRow).where(FieldMappingRow.connector_id == ctx.connector.id)
    )
    ctx.session.flush()
    for position, row in enumerate(rows):
        ctx.session.add(
            FieldMappingRow(
                connector_id=ctx.connector.id,
                position=position,
                kintone_code=row.kintone_code,
                haihai_item=row.haihai_item,
                haihai_item_id=row.haihai_item_id or None,
                is_email=position == 0,
            )
        )
    ctx.session.flush()
