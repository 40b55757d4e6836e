"""The kintone app of an import process (Step8's reaction app, Step9's Bridge app).

It is a `KintoneAppRole` like Step3's customer app: same parsing, 「kintone項目の同期」, permission
check (レコード閲覧 + レコード追加) and 同期結果詳細; its connection and field snapshot live in the
process's `event_import_settings` row, and it lives in Step3's subdomain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from portal.models.event_imports import EventImportSettings
from portal.settings.kintone_app import AppConnection, KintoneAppRole
from portal.settings.sections import DriftEntry, SectionContext
from portal.syncs.config import KintoneAccess
from portal.syncs.kintone_schema import FieldChange


def settings_row(session: Session, connector_id: str, role: str) -> EventImportSettings:
    """The process's settings row; a new, unsaved one (not added to the session) when absent."""
    row = session.get(EventImportSettings, (connector_id, role))
    return row or EventImportSettings(connector_id=connector_id, role=role)


class EventAppRole(KintoneAppRole):
    """The app an import process adds records to."""

    permissions = ("view", "add")
    owns_subdomain = False

    def __init__(
        self,
        key: str,
        section_key: str,
        step_title: str,
        drift: Callable[[SectionContext, list[FieldChange]], list[DriftEntry]] | None = None,
    ):
        self.key = key
        self.prefix = key
        self.section_key = section_key
        self.step_title = step_title
        self._drift = drift

    def bind_drift(
        self, handler: Callable[[SectionContext, list[FieldChange]], list[DriftEntry]]
    ) -> None:
        """Let the section that shows the app handle its drift."""
        self._drift = handler

    def stored(self, ctx: SectionContext) -> AppConnection:
        row = settings_row(ctx.session, ctx.connector.id, self.key)
        return AppConnection(
            subdomain=ctx.settings.kintone_subdomain,
            app_id=row.app_id,
            api_token=row.api_token,
            app_name=row.app_name,
            fields=row.app_fields,
            synced_at=row.app_synced_at,
            sync_report=row.app_sync_report,
        )

    def store(self, ctx: SectionContext, connection: AppConnection) -> None:
        row = settings_row(ctx.session, ctx.connector.id, self.key)
        row.app_id = connection.app_id
        if connection.api_token != row.api_token:
            row.api_token = connection.api_token
        row.app_name = connection.app_name
        row.app_fields = connection.fields
        row.app_synced_at = connection.synced_at
        row.app_sync_report = connection.sync_report
        ctx.session.add(row)

    def drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        return self._drift(ctx, changes) if self._drift is not None else []


def app_access(app_config: Any, subdomain: str, row: EventImportSettings) -> KintoneAccess | None:
    """How a run reaches the process's app, or None until subdomain, app and token are set."""
    from portal.integrations.kintone import kintone_base_url

    if not (subdomain and row.app_id and row.api_token):
        return None
    template = app_config.get("KINTONE_BASE_URL_TEMPLATE") or "https://{subdomain}.cybozu.com"
    return KintoneAccess(
        base_url=kintone_base_url(template, subdomain),
        subdomain=subdomain,
        app_id=row.app_id,
        api_token=row.api_token,
    )
