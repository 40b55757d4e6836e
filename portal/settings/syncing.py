"""「kintone項目の同期」 and 「配配メール設定の同期」: fetch, store the snapshot, apply drift.

A sync stores the connection values it used together with what it fetched (the snapshot belongs
to them), but only after the fetch succeeded. On a re-sync every section is asked to remove or
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
from portal.integrations.retrying import RetryPolicy
from portal.models.common import utcnow
from portal.settings import messages as msg
from portal.settings.haihai_drift import build_snapshot, diff_snapshots
from portal.settings.sections import DriftEntry, SectionContext, sections_for
from portal.settings.steps import parse_haihai_access, parse_kintone_access
from portal.syncs.kintone_schema import diff_fields

log = logging.getLogger(__name__)

# Interactive calls: a short timeout and one quick retry, so the page answers within seconds.
INTERACTIVE_RETRY = RetryPolicy(attempts=2, base_delay=0.3, max_delay=1.0)
INTERACTIVE_TIMEOUT = 15.0
REQUIRED_PERMISSIONS = ("view", "edit")


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


def kintone_error_message(error: kintone_api.KintoneError, app_id: str) -> str:
    """A Japanese message for a kintone failure seen while syncing or checking."""
    if isinstance(error, kintone_api.KintoneAuthError):
        return msg.KINTONE_AUTH
    if isinstance(error, kintone_api.KintoneNotFoundError):
        return msg.KINTONE_APP_NOT_FOUND.format(app_id=app_id)
    if isinstance(error, kintone_api.KintonePermissionError):
        return msg.KINTONE_NO_ACCESS.format(app_id=app_id)
    if isinstance(error, kintone_api.KintoneNetworkError):
        return msg.KINTONE_UNREACHABLE
    return msg.KINTONE_OTHER.format(code=error.code, message=error.message)


def permission_error(found: set[str]) -> str | None:
    """The missing-permission message for the customer app (閲覧 + 編集), or None."""
    missing = [p for p in REQUIRED_PERMISSIONS if p not in found]
    if not missing:
        return None
    return msg.KINTONE_PERMISSIONS_MISSING.format(
        missing="、".join(f"「{msg.PERMISSION_LABELS[p]}」" for p in missing)
    )


def _kintone_client(ctx: SectionContext, subdomain: str, token: str) -> kintone_api.KintoneClient:
    template = ctx.app_config.get("KINTONE_BASE_URL_TEMPLATE", "https://{subdomain}.cybozu.com")
    return kintone_api.KintoneClient(
        kintone_api.kintone_base_url(template, subdomain),
        api_tokens=[token],
        timeout=INTERACTIVE_TIMEOUT,
        retry=INTERACTIVE_RETRY,
    )


def check_kintone_connection(ctx: SectionContext, form: MultiDict) -> str:
    """接続テスト: raise SyncFailed naming what is wrong, or return the success message."""
    data, errors = parse_kintone_access(form, ctx)
    if errors:
        raise SyncInputInvalid(errors)
    try:
        with _kintone_client(ctx, data.subdomain, data.api_token or "") as client:
            found = client.probe_permissions(int(data.app_id))
    except kintone_api.KintoneError as error:
        raise SyncFailed(kintone_error_message(error, data.app_id)) from error
    problem = permission_error(found)
    if problem:
        raise SyncFailed(problem)
    return msg.KINTONE_PERMISSIONS_OK


def sync_kintone(ctx: SectionContext, form: MultiDict) -> SyncReport:
    """Fetch the app's fields with the posted Step3 values, store them and apply the drift.

    Commits on success; raises SyncInputInvalid or SyncFailed (nothing stored) otherwise.
    """
    data, errors = parse_kintone_access(form, ctx)
    if errors:
        raise SyncInputInvalid(errors)
    app_id = int(data.app_id)
    try:
        with _kintone_client(ctx, data.subdomain, data.api_token or "") as client:
            properties = client.get_form_fields(app_id)
            app = client.get_app(app_id)
            permissions = client.probe_permissions(app_id)
    except kintone_api.KintoneError as error:
        log.info(
            "settings_kintone_sync_failed connector_id=%s code=%s", ctx.connector.id, error.code
        )
        raise SyncFailed(kintone_error_message(error, data.app_id)) from error

    settings = ctx.settings
    previous = settings.kintone_fields
    report = SyncReport(first_sync=not previous, permission_error=permission_error(permissions))
    settings.kintone_subdomain = data.subdomain
    settings.kintone_app_id = data.app_id
    if data.api_token != settings.kintone_api_token:
        settings.kintone_api_token = data.api_token
    settings.kintone_app_name = str(app.get("name", ""))[:255]
    settings.kintone_fields = properties
    settings.kintone_synced_at = utcnow()
    ctx.session.add(settings)
    ctx.session.flush()
    if previous:
        changes = diff_fields(previous, properties)
        report.warnings = [
            msg.KINTONE_LABEL_RENAMED.format(old=c.old_label, new=c.new_label)
            for c in changes
            if c.is_warning and c.table is None
        ]
        for section in sections_for(ctx.connector):
            report.entries.extend(section.on_kintone_drift(ctx, changes))
    settings.kintone_sync_report = report.to_json(
        source={"subdomain": data.subdomain, "app_id": data.app_id}
    )
    settings.updated_at = utcnow()
    ctx.session.add(settings)
    ctx.session.commit()
    log.info(
        "settings_kintone_synced connector_id=%s fields=%d removals=%d",
        ctx.connector.id,
        len(properties),
        len(report.entries),
    )
    return report


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
        with haihai_api.HaihaiClient(
            data.url,
            data.login_id,
            data.api_token or "",
            timeout=INTERACTIVE_TIMEOUT,
            retry=INTERACTIVE_RETRY,
            allow_local=allow_local,
        ) as client:
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
        raise SyncFailed(error.user_message) from error

    settings = ctx.settings
    previous = settings.haihai_snapshot
    snapshot = build_snapshot(data.url, items, groups, plans, forms)
    report = SyncReport(first_sync=not previous)
    settings.haihai_url = data.url
    settings.haihai_login_id = data.login_id
    if data.api_token != settings.haihai_api_token:
        settings.haihai_api_token = data.api_token
    settings.haihai_snapshot = snapshot
    settings.haihai_synced_at = utcnow()
    ctx.session.add(settings)
    ctx.session.flush()
    if previous:
        diff = diff_snapshots(previous, snapshot)
        report.warnings = diff.warnings
        for section in sections_for(ctx.connector):
            report.entries.extend(section.on_haihai_drift(ctx, diff))
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
