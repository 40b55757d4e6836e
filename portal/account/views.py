"""アカウント設定 page: the account's identity and how long its 連携ログ is kept."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from portal.db import get_session
from portal.models.common import utcnow
from portal.runs.retention import DEFAULT_RETENTION_DAYS, oldest_kept_run, retention_cutoff

bp = Blueprint("account", __name__)


@bp.get("/account")
@login_required
def settings() -> str:
    """The account's settings: connector ID, mail address, time zone and run retention."""
    days = int(current_app.config.get("RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    return render_template(
        "account/settings.html",
        account=current_user,
        retention_days=days,
        cutoff=retention_cutoff(utcnow(), days),
        oldest=oldest_kept_run(get_session(), current_user.id),
    )
