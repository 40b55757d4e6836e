"""コネクター一覧 (F-LIST-1): the account's connectors and 「新しい連携を追加」."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.connectors.access import list_own_connectors
from portal.connectors.forms import ConnectorCreateForm
from portal.db import get_session
from portal.models.common import utcnow
from portal.models.connectors import Connector
from portal.web.htmx import full_page_redirect, is_htmx

bp = Blueprint("connectors", __name__)

ADDED_MESSAGE = "「{name}」を追加しました。続けて連携設定を行ってください。"


@bp.get("/")
@login_required
def index() -> str:
    """The connector list with its add form."""
    return render_template(
        "connectors/index.html", connectors=list_own_connectors(), form=ConnectorCreateForm()
    )


@bp.post("/connectors")
@login_required
def create() -> Response | tuple[str, int]:
    """Create a connector and open its 連携設定; an invalid form comes back as 422."""
    form = ConnectorCreateForm()
    if not form.validate_on_submit():
        if is_htmx():
            return render_template("connectors/_add_form.html", form=form), 422
        page = render_template("connectors/index.html", connectors=list_own_connectors(), form=form)
        return page, 422
    now = utcnow()
    connector = Connector(
        account_id=current_user.id,
        kind=form.kind.data,
        name=form.name.data,
        created_at=now,
        updated_at=now,
    )
    session = get_session()
    session.add(connector)
    session.commit()
    # A new connector does nothing until it is set up: go straight to its 連携設定.
    flash(ADDED_MESSAGE.format(name=connector.name), "success")
    return full_page_redirect(url_for("settings.edit", connector_id=connector.id))
