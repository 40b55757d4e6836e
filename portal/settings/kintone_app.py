"""A kintone app of a connector: its connection, its last field snapshot and how drift is handled.

Step3's customer app is one such app. A process that reads or writes an app of its own (the
reaction history app of Step8, the Bridge app of Step9) declares a `KintoneAppRole` for it and
gets the same parsing, 「kintone項目の同期」, permission check and 同期結果詳細 as Step3 (see
`portal.settings.syncing.sync_kintone_app`). Apps other than Step3's live in Step3's subdomain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.integrations.kintone import KintoneAuthError, KintoneError
from portal.messages.kintone import KintoneStep, kintone_message, settings_step
from portal.settings import messages as msg
from portal.settings.sections import DriftEntry, SectionContext, drift_of, sections_for
from portal.settings.steps import KintoneData, parse_app_access
from portal.syncs.kintone_schema import FieldChange


@dataclass
class AppConnection:
    """What is stored about one app: how to reach it and what its fields were at the last sync."""

    subdomain: str
    app_id: str
    api_token: str | None
    app_name: str = ""
    fields: dict[str, Any] | None = None
    synced_at: dt.datetime | None = None
    sync_report: dict[str, Any] | None = None

    @property
    def source(self) -> dict[str, str] | None:
        """The subdomain and app the stored field snapshot was read from."""
        return (self.sync_report or {}).get("source")


class KintoneAppRole:
    """One kind of app a connector uses; subclasses say where it is stored and what drift does.

    Form fields are `<prefix>_app_id`, `<prefix>_api_token` (and `kintone_subdomain` for the
    app that owns the subdomain); errors of the sync area are reported as `<prefix>_sync`.
    """

    key: str = ""
    prefix: str = ""
    section_key: str = ""  # the settings section showing the app (re-rendered after a sync)
    step_title: str = ""  # e.g. 「Step3. kintone連携設定」, named in messages
    permissions: tuple[str, ...] = ("view",)
    owns_subdomain: bool = False

    def stored(self, ctx: SectionContext) -> AppConnection:
        """The stored connection and snapshot."""
        raise NotImplementedError

    def store(self, ctx: SectionContext, connection: AppConnection) -> None:
        """Store a connection together with the snapshot fetched with it (not committed)."""
        raise NotImplementedError

    def drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        """Remove what the changed fields break; describe each removal (付録6.1)."""
        return []

    def subdomain(self, ctx: SectionContext) -> str:
        """The subdomain of an app that does not own one: Step3's (being saved, or stored)."""
        step3 = ctx.parsed.get("step3")
        if step3 is not None and getattr(step3, "subdomain", ""):
            return step3.subdomain
        return ctx.settings.kintone_subdomain or ""

    def parse(self, ctx: SectionContext, form: MultiDict) -> tuple[KintoneData, dict[str, str]]:
        """Validate the app's connection fields in `form`."""
        return parse_app_access(
            form,
            prefix=self.prefix,
            stored_token=self.stored(ctx).api_token,
            subdomain=None if self.owns_subdomain else self.subdomain(ctx),
        )

    def step(self, app_id: str | int | None) -> KintoneStep:
        """What the settings page does with the app, for the wording of kintone's failures."""
        return KintoneStep(app_id, needs=self.permissions)

    def error_message(self, error: KintoneError, app_id: str | int | None) -> str:
        """A kintone failure seen by its sync or check buttons, in Japanese."""
        if isinstance(error, KintoneAuthError):
            return msg.KINTONE_APP_AUTH.format(step=self.step_title)
        return kintone_message(error, self.step(app_id))


class CustomerAppRole(KintoneAppRole):
    """Step3's customer app (レコード閲覧 + レコード編集); its drift reaches every section."""

    key = "customer"
    prefix = "kintone"
    section_key = "step3"
    step_title = "Step3. kintone連携設定"
    permissions = ("view", "edit")
    owns_subdomain = True

    def stored(self, ctx: SectionContext) -> AppConnection:
        s = ctx.settings
        return AppConnection(
            subdomain=s.kintone_subdomain,
            app_id=s.kintone_app_id,
            api_token=s.kintone_api_token,
            app_name=s.kintone_app_name,
            fields=s.kintone_fields,
            synced_at=s.kintone_synced_at,
            sync_report=s.kintone_sync_report,
        )

    def store(self, ctx: SectionContext, connection: AppConnection) -> None:
        s = ctx.settings
        s.kintone_subdomain = connection.subdomain
        s.kintone_app_id = connection.app_id
        if connection.api_token != s.kintone_api_token:
            s.kintone_api_token = connection.api_token
        s.kintone_app_name = connection.app_name
        s.kintone_fields = connection.fields
        s.kintone_synced_at = connection.synced_at
        s.kintone_sync_report = connection.sync_report
        ctx.session.add(s)

    def drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        entries: list[DriftEntry] = []
        for section in sections_for(ctx.connector):
            entries.extend(drift_of(section, section.on_kintone_drift(ctx, changes)))
        return entries

    def step(self, app_id: str | int | None) -> KintoneStep:
        return settings_step(app_id)

    def error_message(self, error: KintoneError, app_id: str | int | None) -> str:
        return kintone_message(error, self.step(app_id))


CUSTOMER_APP = CustomerAppRole()
