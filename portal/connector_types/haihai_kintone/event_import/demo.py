"""The demo connector's settings of the two import processes (Step8 / Step9 demo hooks).

The demo apps themselves are created in the sandboxes by `portal.demo_events`; this module only
finds them (as the demo's kintone administrator) and stores the Step's settings. It lives in the
connector type so that the process folders' demo hooks import nothing from outside the type
(`portal.demo_events` imports this module, never the other way round).
"""

from __future__ import annotations

import logging

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.event_import import templates as app_templates
from portal.integrations.kintone import KintoneClient, KintoneError, kintone_base_url
from portal.syncs.clients import kintone_login_client

log = logging.getLogger(__name__)

DEMO_ADMIN_LOGIN = "demo-kintone-admin"
DEMO_ADMIN_PASSWORD = "Demo#Kintone2024"
DEMO_APP_TOKENS = {
    "reaction": "DemoReactionAppToken00000000000000000001",
    "bridge": "DemoBridgeAppToken0000000000000000000001",
}


def find_app(client: KintoneClient, name: str) -> int | None:
    """The ID of the app called `name` the client's user can see (None if there is none)."""
    body = client.request("GET", "apps", {"name": name})
    for app in body.get("apps", []):
        if app.get("name") == name:
            return int(app["appId"])
    return None


def _demo_app(ctx, role: str) -> str | None:
    """The ID of the demo app of `role` in the connector's subdomain (None outside the demo)."""
    template = ctx.app_config.get("KINTONE_BASE_URL_TEMPLATE") or "https://{subdomain}.cybozu.com"
    subdomain = ctx.settings.kintone_subdomain
    if not subdomain:
        return None
    try:
        with kintone_login_client(
            kintone_base_url(template, subdomain), DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD
        ) as client:
            app_id = find_app(client, app_templates.default_app_name(role))
    except (KintoneError, ValueError):
        return None  # not the demo's kintone: nothing to configure
    return str(app_id) if app_id is not None else None


def configure_demo_import(ctx, role: str) -> None:
    """Demo settings of one import process (a demo hook): sync the demo app of `role`, 手動実行,
    every 連携種別 / every form, 会社名 mapped."""
    from portal.settings import syncing
    from portal.settings.mapping import MappingRow
    from portal.settings.sections import section_for

    app_id = _demo_app(ctx, role)
    if app_id is None:
        return
    section = section_for(ctx.connector, "step8" if role == "reaction" else "step9")
    form = MultiDict({f"{role}_app_id": app_id, f"{role}_api_token": DEMO_APP_TOKENS[role]})
    try:
        syncing.sync_kintone_app(ctx, form, section.role)
    except (syncing.SyncFailed, syncing.SyncInputInvalid) as error:
        log.warning("demo_event_app_not_synced role=%s error=%s", role, error)
        return
    row = section.row(ctx)
    row.timing = "manual"
    row.event_types = ["open", "click", "visit", "cv", "download"]
    row.form_mode = "all"
    ctx.session.add(row)
    company = next(
        (str(i["id"]) for i in ctx.haihai_snapshot.get("items", []) if i["label"] == "会社名"), ""
    )
    if company and "company" in (row.app_fields or {}):
        section.replace_rows(ctx, [MappingRow("company", "会社名", company)])
    ctx.session.flush()
