"""Tenancy: the signed-in account reaches only its own connectors; anything else is a 404."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

from portal.db import get_session
from portal.models.connectors import Connector


def own_connectors_query() -> SelectOfScalar[Connector]:
    """A SELECT of the signed-in account's connectors, oldest first (empty when signed out)."""
    account_id = current_user.id if current_user.is_authenticated else None
    return (
        select(Connector)
        .where(Connector.account_id == account_id)
        .order_by(Connector.created_at, Connector.id)
    )


def list_own_connectors() -> list[Connector]:
    """The signed-in account's connectors, oldest first."""
    return list(get_session().exec(own_connectors_query()).all())


def get_own_connector_or_404(connector_id: str) -> Connector:
    """The signed-in account's connector with this ID; aborts with 404 for any other ID."""
    if not current_user.is_authenticated:
        abort(404)
    connector = get_session().get(Connector, connector_id)
    # Someone else's connector answers exactly like one that does not exist.
    if connector is None or connector.account_id != current_user.id:
        abort(404)
    return connector
