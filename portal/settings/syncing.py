"""「kintone項目の同期」 and 「配配メール設定の同期」: fetch, store the snapshot, apply drift.

A sync stores the connection values it used together with what it fetched (the snapshot belongs
to them), and 配配メール's also 連携設定方法 = 「配配メールから同期した内容から設定する」, but only after
the fetch succeeded; the section then shows exactly what is stored. On a re-sync every section is asked to remove or
clear what the changes break (付録6.1/6.2); the removals and warnings are kept as the sync report
until the next sync, so 「同期結果詳細」 can be reopened after a reload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.integrations import haihai as haihai_api
from portal.integrations import kintone as kintone_api
from portal.messages.haihai import haihai_message
from portal.messages.kintone import missing_permissions_message, permissions_ok_message
from portal.models.common import utcnow
from portal.models.settings import HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings.haihai_drift import build_snapshot, diff_snapshots
from portal.settings.kintone_app import CUSTOMER_APP, AppConnection, KintoneAppRole
from portal.settings.sections import DriftEntry, SectionContext, drift_of, sections_for
from portal.settings.steps import KintoneData, parse_haihai_access
from portal.syncs.clients import INTERACTIVE, haihai_client, kintone_access, kintone_client
from portal.syncs.config import HaihaiAccess
from portal.syncs.kintone_schema import diff_fields

log = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = CUSTOMER_APP.permissions  # the customer app: 閲覧 + 編集


class SyncInputInvalid(Exception):
    """The connection fields next to the sync button are invalid ({field: message})."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("sync input invalid: " + ", ".join(sorted(errors)))
        self.errors = errors


class SyncFailed(Exception):
    """The remote service refused or could not be reached; `message` is shown next to the button."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class SyncReport:
    """What one sync found: warnings (renames), removals, and a missing-permission error."""

    warnings: list[str] = field(default_factory=list)
    entries: list[DriftEntry] = field(default_factory=list)
    permission_error: str | None = None
    first_sync: bool = False

    def to_json(self, source: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON kept on the settings row."""
        data: dict[str, Any] = {
            "warnings": list(self.warnings),
            "entries": [e.to_json() for e in self.entries],
            "permission_error": self.permission_error,
        }
        if source is not None:
            data["source"] = source
        return data


# --- kintone ---------------------------------------------------------------------------------


def permission_error(found: set[str], role: KintoneAppRole = CUSTOMER_APP) -> str | None:
    """The missing-permission message for `role`'s app (customer app: 閲覧 + 編集), or None."""
    return missing_permissions_message(found, role.permissions)


def interactive_client(ctx: SectionContext, data: KintoneData) -> kintone_api.KintoneClient:
    """A client for a button the user waits for, with the posted app's token."""
    template = ctx.app_config.get("KINTONE_BASE_URL_TEMPLATE")
    access = kintone_access(template, data.subdomain, data.app_id, data.api_token or "")
    return kintone_client(access, profile=INTERACTIVE)


def check_kintone_app(ctx: SectionContext, form: MultiDict, role: KintoneAppRole) -> str:
    """接続テスト of `role`'s app: raise SyncFailed naming what is wrong, or the success text."""
    data, errors = role.parse(ctx, form)
    if errors:
        raise SyncInputInvalid(errors)
    try:
        with interactive_client(ctx, data) as client:
            found = client.probe_permissions(int(data.app_id))
    except kintone_api.KintoneError as error:
        raise SyncFailed(role.error_message(error, data.app_id)) from error
    problem = permission_error(found, role)
    if problem:
        raise SyncFailed(problem)
    return permissions_ok_message(role.permissions)


def check_kintone_connection(ctx: SectionContext, form: MultiDict) -> str:
    """接続テスト of Step3's customer app."""
    return check_kintone_app(ctx, form, CUSTOMER_APP)


def sync_kintone_app(ctx: SectionContext, form: MultiDict, role: KintoneAppRole) -> SyncReport:
    """Fetch `role`'s app fields with the posted values, store them and apply the drift.

    Commits on success; raises SyncInputInvalid or SyncFailed (nothing stored) otherwise.
    """
    data, errors = role.parse(ctx, form)
    if errors:
        raise SyncInputInvalid(errors)
    app_id = int(data.app_id)
    try:
        with interactive_client(ctx, data) as client:
            # A token that opens nothing of the app: a wrong app ID or another app's token.
            properties = client.get_form_fields(app_id, explain_refusal=True)
            app = client.get_app(app_id)
            permissions = client.probe_permissions(app_id)
    except kintone_api.KintoneError as error:
        log.info(
            "settings_kintone_sync_failed connector_id=%s app_role=%s code=%s",
            ctx.connector.id,
            role.key,
            error.code,
        )
        raise SyncFailed(role.error_message(error, data.app_id)) from error

    previous = role.stored(ctx)
    report = SyncReport(
        first_sync=not previous.fields, permission_error=permission_error(permissions, role)
    )
    connection = AppConnection(
        subdomain=data.subdomain,
        app_id=data.app_id,
        api_token=data.api_token,
        app_name=str(app.get("name", ""))[:255],
        fields=properties,
        synced_at=utcnow(),
        sync_report=previous.sync_report,
    )
    role.store(ctx, connection)
    ctx.session.flush()
    if previous.fields:
        changes = diff_fields(previous.fields, properties)
        report.warnings = [
            msg.KINTONE_LABEL_RENAMED.format(old=c.old_label, new=c.new_label)
            for c in changes
            if c.is_warning and c.table is None
        ]
        report.entries.extend(role.drift(ctx, changes))
    connection.sync_report = report.to_json(
        source={"subdomain": data.subdomain, "app_id": data.app_id}
    )
    role.store(ctx, connection)
    ctx.settings.updated_at = utcnow()
    ctx.session.add(ctx.settings)
    ctx.session.commit()
    log.info(
        "settings_kintone_synced connector_id=%s app_role=%s fields=%d removals=%d",
        ctx.connector.id,
        role.key,
        len(properties),
        len(report.entries),
    )
    return report


def sync_kintone(ctx: SectionContext, form: MultiDict) -> SyncReport:
    """「kintone項目の同期」 of Step3's customer app (see sync_kintone_app)."""
    return sync_kintone_app(ctx, form, CUSTOMER_APP)


# --- 配配メール ------------------------------------------------------------------------------


def sync_haihai(ctx: SectionContext, form: MultiDict) -> SyncReport:
    """Fetch items, groups, step plans and forms with the posted Step2 values; apply the drift.

    Commits on success; raises SyncInputInvalid or SyncFailed (nothing stored) otherwise.
    """
    data, errors = parse_haihai_access(form, ctx)
    if errors:
        raise SyncInputInvalid(errors)
    allow_local = bool(ctx.app_config.get("HAIHAI_ALLOW_LOCAL_URLS"))
    try:
        access = HaihaiAccess(data.url, data.login_id, data.api_token or "")
        with haihai_client(access, allow_local=allow_local, profile=INTERACTIVE) as client:
            items = client.list_items()
            groups = client.list_groups()
            plans = client.list_step_plans()
            try:
                forms = client.list_forms()
            except haihai_api.HaihaiPlanError:
                forms = None  # no Bridge plan: no forms, not an error
    except haihai_api.HaihaiError as error:
        log.info(
            "settings_haihai_sync_failed connector_id=%s error=%s",
            ctx.connector.id,
            type(error).__name__,
        )
        raise SyncFailed(haihai_message(error)) from error

    settings = ctx.settings
    previous = settings.haihai_snapshot
    snapshot = build_snapshot(data.url, items, groups, plans, forms)
    report = SyncReport(first_sync=not previous)
    settings.haihai_url = data.url
    settings.haihai_login_id = data.login_id
    if data.api_token != settings.haihai_api_token:
        settings.haihai_api_token = data.api_token
    # A snapshot is what 「配配メールから同期した内容から設定する」 works from: the sync stores that
    # method with it, so the page, the mapping dialog and storage never disagree (said on screen).
    settings.haihai_method = HAIHAI_METHOD_SYNCED
    settings.haihai_snapshot = snapshot
    settings.haihai_synced_at = utcnow()
    ctx.session.add(settings)
    ctx.session.flush()
    if previous:
        diff = diff_snapshots(previous, snapshot)
        report.warnings = diff.warnings
        for section in sections_for(ctx.connector):
            report.entries.extend(drift_of(section, section.on_haihai_drift(ctx, diff)))
    settings.haihai_sync_report = report.to_json()
    settings.updated_at = utcnow()
    ctx.session.add(settings)
    ctx.session.commit()
    log.info(
        "settings_haihai_synced connector_id=%s items=%d groups=%d plans=%d forms=%d removals=%d",
        ctx.connector.id,
        len(snapshot["items"]),
        len(snapshot["groups"]),
        len(snapshot["step_plans"]),
        len(snapshot["forms"]),
        len(report.entries),
    )
    return report
