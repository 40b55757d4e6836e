"""The built-in sections of the 連携設定 page: Step1–Step4 and Step7 (manual §2.1.3)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import delete, select
from werkzeug.datastructures import MultiDict

from portal.crypto import SECRET_PLACEHOLDER, is_placeholder, mask
from portal.integrations.haihai import parse_haihai_url
from portal.models.common import utcnow
from portal.models.settings import (
    DEFAULT_EMAIL_DISPLAY_NAME,
    HAIHAI_METHOD_MANUAL,
    HAIHAI_METHOD_SYNCED,
    FieldMappingRow,
)
from portal.settings import messages as msg
from portal.settings import synced_state
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
from portal.syncs.config import FieldMapping
from portal.syncs.field_claims import mapping_claims
from portal.syncs.kintone_schema import (
    ChangeKind,
    FieldChange,
    recommended_haihai_type,
)

NAME_MAX = 100
TEXT_MAX = 255
_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces
# kintone API tokens are letters and digits; a comma would smuggle a second token in.
_KINTONE_TOKEN = re.compile(r"^[A-Za-z0-9]+$")
TIMINGS = ("off", "manual", "schedule")


def _checked(form: MultiDict, name: str) -> bool:
    return (form.get(name) or "").strip().lower() in {"1", "on", "true", "yes"}


def posted_secret(
    form: MultiDict,
    name: str,
    stored: str | None,
    errors: dict[str, str],
    pattern: re.Pattern,
    format_message: str,
) -> str | None:
    """A secret field: the placeholder keeps `stored`; empty is an error; else the new value."""
    value = (form.get(name) or "").strip()
    if is_placeholder(value) and stored:
        return stored
    if not value or is_placeholder(value):
        errors[name] = msg.REQUIRED
        return None
    if not pattern.match(value):
        errors[name] = format_message
        return None
    return value


def shown_secret(stored: str | None) -> str:
    """What a re-rendered secret field shows: the placeholder at most, never a token (neither
    the stored one nor one just typed; the browser keeps what was typed, see portal.js)."""
    return mask(stored)


def _required_text(form: MultiDict, name: str, errors: dict[str, str], limit: int) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        errors[name] = msg.REQUIRED
    elif len(value) > limit:
        errors[name] = msg.NAME_TOO_LONG if limit == NAME_MAX else msg.TEXT_TOO_LONG
    return value


def drift_reason(change: FieldChange) -> str:
    """The エラー内容 of 付録6.1 for a change that removes settings."""
    if change.kind is ChangeKind.REMOVED:
        return msg.KINTONE_FIELD_DELETED
    return msg.KINTONE_FIELD_CHANGED


def breaking_changes(changes: list[FieldChange]) -> dict[str, FieldChange]:
    """The first error-level change of each field code (warnings and additions left out)."""
    found: dict[str, FieldChange] = {}
    for change in changes:
        if change.is_error and change.code not in found:
            found[change.code] = change
    return found


# --- Step1 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicData:
    """Step1 values saved by 「保存」 (the plugin token has its own endpoint)."""

    name: str


class BasicSection(Section):
    """Step1. 配配メールコネクタ基本設定: 連携設定名 and the kintone plugin token."""

    key = "step1"
    order = 10
    title = "Step1. 配配メールコネクタ基本設定"
    template = "settings/_step1.html"

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        return {"name": ctx.connector.name}

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        return {"name": form.get("name", "")}

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "token_set": bool(ctx.settings.plugin_token_lookup),
            "token_issued_at": ctx.settings.plugin_token_issued_at,
        }

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[BasicData, dict[str, str]]:
        errors: dict[str, str] = {}
        name = _required_text(form, "name", errors, NAME_MAX)
        return BasicData(name), errors

    def store(self, ctx: SectionContext, data: BasicData) -> None:
        ctx.connector.name = data.name
        ctx.connector.updated_at = utcnow()
        ctx.session.add(ctx.connector)


# --- Step2 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HaihaiData:
    """Step2 values: the account URL (normalised), login ID, API token and 連携設定方法."""

    url: str
    login_id: str
    api_token: str | None
    method: str


def parse_haihai_access(form: MultiDict, ctx: SectionContext) -> tuple[HaihaiData, dict[str, str]]:
    """Validate 配配メールURL, ログインID and APIトークン (shared by 保存 and the sync button)."""
    errors: dict[str, str] = {}
    raw_url = (form.get("haihai_url") or "").strip()
    url = raw_url
    if not raw_url:
        errors["haihai_url"] = msg.REQUIRED
    else:
        try:
            allow_local = bool(ctx.app_config.get("HAIHAI_ALLOW_LOCAL_URLS"))
            url = parse_haihai_url(raw_url, allow_local=allow_local).base_url
        except ValueError:
            errors["haihai_url"] = msg.HAIHAI_URL_FORMAT
    login_id = _required_text(form, "haihai_login_id", errors, TEXT_MAX)
    token = posted_secret(
        form,
        "haihai_api_token",
        ctx.settings.haihai_api_token,
        errors,
        _TOKEN,
        msg.HAIHAI_TOKEN_FORMAT,
    )
    method = (form.get("haihai_method") or "").strip()
    return HaihaiData(url, login_id, token, method), errors


class HaihaiSection(Section):
    """Step2. 配配メール連携設定."""

    key = "step2"
    order = 20
    title = "Step2. 配配メール連携設定"
    template = "settings/_step2.html"
    secret_fields = ("haihai_api_token",)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        s = ctx.settings
        return {
            "haihai_url": s.haihai_url,
            "haihai_login_id": s.haihai_login_id,
            "haihai_api_token": mask(s.haihai_api_token),
            "haihai_method": s.haihai_method or HAIHAI_METHOD_MANUAL,
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        token = shown_secret(ctx.settings.haihai_api_token)
        return {
            "haihai_url": form.get("haihai_url", ""),
            "haihai_login_id": form.get("haihai_login_id", ""),
            "haihai_api_token": token,
            "haihai_method": form.get("haihai_method", ""),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        view = sync_view(ctx.settings.haihai_synced_at, ctx.settings.haihai_sync_report)
        snapshot = ctx.haihai_snapshot
        view["counts"] = {
            key: len(snapshot.get(key, [])) for key in ("items", "groups", "step_plans", "forms")
        }
        view["drift_headline"] = msg.HAIHAI_DRIFT_HEADLINE
        return view

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[HaihaiData, dict[str, str]]:
        data, errors = parse_haihai_access(form, ctx)
        if data.method not in (HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED):
            errors["haihai_method"] = msg.CHOOSE_METHOD
        elif data.method == HAIHAI_METHOD_SYNCED:
            snapshot = ctx.haihai_snapshot
            if not snapshot:
                errors["haihai_sync"] = msg.HAIHAI_SYNC_NEEDED
            elif "haihai_url" not in errors and snapshot.get("source") != data.url:
                errors["haihai_sync"] = msg.HAIHAI_SYNC_STALE
        return data, errors

    def store(self, ctx: SectionContext, data: HaihaiData) -> None:
        s = ctx.settings
        s.haihai_url = data.url
        s.haihai_login_id = data.login_id
        if data.api_token != s.haihai_api_token:
            s.haihai_api_token = data.api_token
        s.haihai_method = data.method
        ctx.session.add(s)

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        s = ctx.settings
        return MultiDict(
            {
                "haihai_url": s.haihai_url,
                "haihai_login_id": s.haihai_login_id,
                "haihai_api_token": s.haihai_api_token or "",
                "haihai_method": s.haihai_method or HAIHAI_METHOD_MANUAL,
            }
        )

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        return synced_state.haihai_state(ctx.settings)

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        return synced_state.restore_haihai_state(ctx.settings, data)


def sync_view(synced_at: dt.datetime | None, report: dict | None) -> dict[str, Any]:
    """Template values of a sync area: last time, warnings, removals of the last re-sync."""
    report = report or {}
    return {
        "placeholder": SECRET_PLACEHOLDER,
        "synced_at": synced_at,
        "warnings": list(report.get("warnings", [])),
        "entries": [DriftEntry.from_json(e) for e in report.get("entries", [])],
        "permission_error": report.get("permission_error"),
    }


# --- Step3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KintoneData:
    """Step3 values: サブドメイン名, アプリID and APIトークン of the customer app."""

    subdomain: str
    app_id: str
    api_token: str | None


def parse_app_access(
    form: MultiDict,
    *,
    prefix: str,
    stored_token: str | None,
    subdomain: str | None = None,
) -> tuple[KintoneData, dict[str, str]]:
    """Validate an app's アプリID and APIトークン posted as `<prefix>_app_id` / `<prefix>_api_token`.

    The サブドメイン名 is read from `kintone_subdomain` unless `subdomain` is given: apps of
    later Steps live in the subdomain of Step3 (an empty one is reported as `<prefix>_sync`).
    Shared by 「保存」 and the sync buttons of every kintone app of a connector.
    """
    errors: dict[str, str] = {}
    if subdomain is None:
        subdomain = (form.get("kintone_subdomain") or "").strip().lower()
        if not subdomain:
            errors["kintone_subdomain"] = msg.REQUIRED
        elif not _SUBDOMAIN.match(subdomain):
            errors["kintone_subdomain"] = msg.KINTONE_SUBDOMAIN_FORMAT
    elif not subdomain:
        errors[f"{prefix}_sync"] = msg.KINTONE_SUBDOMAIN_FIRST
    app_field = f"{prefix}_app_id"
    app_id = (form.get(app_field) or "").strip()
    if not app_id:
        errors[app_field] = msg.REQUIRED
    elif not app_id.isascii() or not app_id.isdigit() or int(app_id) < 1 or len(app_id) > 18:
        errors[app_field] = msg.KINTONE_APP_ID_FORMAT
    else:
        app_id = str(int(app_id))
    token = posted_secret(
        form,
        f"{prefix}_api_token",
        stored_token,
        errors,
        _KINTONE_TOKEN,
        msg.KINTONE_TOKEN_FORMAT,
    )
    return KintoneData(subdomain, app_id, token), errors


def parse_kintone_access(
    form: MultiDict, ctx: SectionContext
) -> tuple[KintoneData, dict[str, str]]:
    """Validate サブドメイン名, アプリID and APIトークン (shared by 保存 and the sync button)."""
    return parse_app_access(form, prefix="kintone", stored_token=ctx.settings.kintone_api_token)


def kintone_source(settings) -> dict[str, str] | None:
    """The subdomain and app the stored field snapshot was read from."""
    report = settings.kintone_sync_report or {}
    return report.get("source")


class KintoneSection(Section):
    """Step3. kintone連携設定."""

    key = "step3"
    order = 30
    title = "Step3. kintone連携設定"
    template = "settings/_step3.html"
    secret_fields = ("kintone_api_token",)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        s = ctx.settings
        return {
            "kintone_subdomain": s.kintone_subdomain,
            "kintone_app_id": s.kintone_app_id,
            "kintone_api_token": mask(s.kintone_api_token),
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        token = shown_secret(ctx.settings.kintone_api_token)
        return {
            "kintone_subdomain": form.get("kintone_subdomain", ""),
            "kintone_app_id": form.get("kintone_app_id", ""),
            "kintone_api_token": token,
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        view = sync_view(ctx.settings.kintone_synced_at, ctx.settings.kintone_sync_report)
        view["app_name"] = ctx.settings.kintone_app_name
        view["field_count"] = len(ctx.kintone_fields)
        view["drift_headline"] = msg.KINTONE_DRIFT_HEADLINE
        return view

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[KintoneData, dict[str, str]]:
        data, errors = parse_kintone_access(form, ctx)
        source = kintone_source(ctx.settings)
        if not ctx.settings.kintone_fields or source is None:
            errors["kintone_sync"] = msg.KINTONE_SYNC_NEEDED
        elif not {"kintone_subdomain", "kintone_app_id"} & errors.keys() and (
            source.get("subdomain") != data.subdomain or source.get("app_id") != data.app_id
        ):
            errors["kintone_sync"] = msg.KINTONE_SYNC_STALE
        return data, errors

    def store(self, ctx: SectionContext, data: KintoneData) -> None:
        s = ctx.settings
        s.kintone_subdomain = data.subdomain
        s.kintone_app_id = data.app_id
        if data.api_token != s.kintone_api_token:
            s.kintone_api_token = data.api_token
        ctx.session.add(s)

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        s = ctx.settings
        return MultiDict(
            {
                "kintone_subdomain": s.kintone_subdomain,
                "kintone_app_id": s.kintone_app_id,
                "kintone_api_token": s.kintone_api_token or "",
            }
        )

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        return synced_state.kintone_state(ctx.settings)

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        return synced_state.restore_kintone_state(ctx.settings, data)


# --- Step4 -----------------------------------------------------------------------------------


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
            "email_custom": _checked(form, "email_custom"),
            "email_display_name": form.get("email_display_name", ""),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return mapping_view(values["rows"], ctx)

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[MappingData, dict[str, str]]:
        method = ctx.haihai_method
        rows = rows_from_form(form)
        if method == HAIHAI_METHOD_SYNCED:
            rows = resolve_names(rows, ctx.haihai_snapshot)
        custom = _checked(form, "email_custom") and method == HAIHAI_METHOD_MANUAL
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
        breaking = breaking_changes(changes)
        kept, entries = [], []
        for row in stored_rows(ctx):
            change = breaking.get(row.kintone_code)
            if change is None:
                kept.append(row)
                continue
            entries.append(
                DriftEntry(
                    msg.GROUP_MAPPINGS,
                    (msg.HEADER_KINTONE_FIELD, msg.HEADER_HAIHAI_ITEM, msg.HEADER_ERROR),
                    (change.old_label or change.code, row.haihai_item, drift_reason(change)),
                )
            )
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


# The shared Steps 1–4 of the 配配メール-kintone connector type, in page order.
SHARED_SECTIONS: tuple[Section, ...] = (
    BasicSection(),
    HaihaiSection(),
    KintoneSection(),
    MappingSection(),
)
