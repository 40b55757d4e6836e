"""Loads a connector's typed configuration through its connector type (web, jobs, CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlmodel import Session

from portal.connector_types.registry import get_connector_type
from portal.models import Connector


class ConnectorNotFound(LookupError):
    """No connector has this ID."""


def load_connector_config(
    session: Session,
    connector_id: str,
    *,
    app_config: Mapping[str, Any] | None = None,
    kintone_base_template: str | None = None,
) -> Any:
    """Everything a run of `connector_id` needs, as its connector type loads it.

    Raises ConnectorNotFound when the connector is gone. `kintone_base_template` overrides
    KINTONE_BASE_URL_TEMPLATE (demo and tests point kintone at the sandbox).
    """
    connector = session.get(Connector, connector_id)
    if connector is None:
        raise ConnectorNotFound(connector_id)
    settings = dict(app_config if app_config is not None else current_app.config)
    if kintone_base_template:
        settings["KINTONE_BASE_URL_TEMPLATE"] = kintone_base_template
    connector_type = get_connector_type(connector.kind)
    return connector_type.load_config(session, connector, settings)
