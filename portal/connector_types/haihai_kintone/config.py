"""How the 配配メール-kintone connector type turns its stored settings into a ConnectorConfig."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from portal.integrations.kintone import kintone_base_url
from portal.models import Account, Connector
from portal.models.settings import ConnectorSettings
from portal.settings.sections import SectionContext, sections_for
from portal.syncs.config import ConnectorConfig, HaihaiAccess, KintoneAccess

DEFAULT_KINTONE_BASE_URL_TEMPLATE = "https://{subdomain}.cybozu.com"


def kintone_access(settings: ConnectorSettings, template: str) -> KintoneAccess | None:
    """Step3's access to the customer app, or None until subdomain, app and token are set."""
    if not (settings.kintone_subdomain and settings.kintone_app_id and settings.kintone_api_token):
        return None
    return KintoneAccess(
        base_url=kintone_base_url(template, settings.kintone_subdomain),
        subdomain=settings.kintone_subdomain,
        app_id=settings.kintone_app_id,
        api_token=settings.kintone_api_token,
    )


def haihai_access(settings: ConnectorSettings) -> HaihaiAccess | None:
    """Step2's access to 配配メール, or None until URL, login ID and token are set."""
    if not (settings.haihai_url and settings.haihai_login_id and settings.haihai_api_token):
        return None
    return HaihaiAccess(
        base_url=settings.haihai_url,
        login_id=settings.haihai_login_id,
        api_token=settings.haihai_api_token,
    )


def load_config(
    session: Session, connector: Connector, app_config: Mapping[str, Any]
) -> ConnectorConfig:
    """Everything a run of `connector` needs, secrets decrypted.

    kintone/haihai access is None until its fields are complete. Each process's Step adds its
    own configuration object under its section key (`config.section("step5")` …).
    """
    account = session.get(Account, connector.account_id)
    template = app_config.get("KINTONE_BASE_URL_TEMPLATE") or DEFAULT_KINTONE_BASE_URL_TEMPLATE
    settings = session.get(ConnectorSettings, connector.id) or ConnectorSettings(
        connector_id=connector.id
    )
    values: dict[str, Any] = {
        "connector_id": connector.id,
        "name": connector.name,
        "timezone": account.timezone
        if account
        else app_config.get("PORTAL_TIMEZONE", "Asia/Tokyo"),
        "kintone": kintone_access(settings, template),
        "haihai": haihai_access(settings),
        "kintone_fields": dict(settings.kintone_fields or {}),
    }
    ctx = SectionContext(session, connector, settings, app_config)
    by_section: dict[str, Any] = {}
    for section in sections_for(connector):
        values.update(section.config_values(ctx))
        own = section.config_value(ctx)
        if own is not None:
            by_section[section.key] = own
    return ConnectorConfig(**values, sections=by_section)
