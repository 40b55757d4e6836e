"""Step6 partials: the dialog 「連携項目の設定」 (付録2.2) and the rules shown on the page.

Every endpoint is a POST made from inside a form (the settings page or the dialog), so htmx
sends that whole form; nothing here stores anything — 「保存」 of the page does.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import login_required

from portal.connector_types.haihai_kintone.stop_ban.config import DEFAULT_MODE, MODE_LABELS
from portal.connector_types.haihai_kintone.stop_ban.form import (
    MODE_FIELD,
    PRECEDENCE_NOTE,
    SAME_FIELD_NOTE,
    RuleInput,
    candidates,
    parse_rules,
    posted_mode,
    posted_rules,
    rule_rows,
)
from portal.connector_types.haihai_kintone.stop_ban.section import email_field, rules_view
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.settings import service
from portal.settings.sections import SectionContext
from portal.web.htmx import hx_response

bp = Blueprint("stop_ban_settings", __name__)

UNPROCESSABLE = 422
CLOSE_MODAL = "settingsCloseModal"  # the page closes the open dialog on this event
RULES_TARGET = "#step6-rules"


def _context(connector_id: str) -> SectionContext:
    connector = get_own_connector_or_404(connector_id)
    return service.make_context(get_session(), connector, current_app.config)


def _dialog_html(
    ctx: SectionContext,
    mode: str,
    rules: dict[str, RuleInput],
    errors: dict[str, str] | None = None,
    *,
    whole: bool = False,
) -> str:
    fields = ctx.kintone_fields
    return render_template(
        "settings/_stop_ban_dialog.html" if whole else "settings/_stop_ban_dialog_content.html",
        connector=ctx.connector,
        mode=mode,
        mode_label=MODE_LABELS[mode],
        mode_field=MODE_FIELD,
        rows=rule_rows(mode, rules, fields),
        candidates=candidates(fields, email_field(ctx, request.form)),
        has_kintone_fields=bool(fields),
        same_field_note=SAME_FIELD_NOTE,
        precedence_note=PRECEDENCE_NOTE,
        errors=errors or {},
    )


@bp.post("/connectors/<connector_id>/settings/stop-ban/dialog")
@login_required
def dialog(connector_id: str):
    """Open 「連携項目の設定」 with the 連携種別 and rules currently on the page."""
    ctx = _context(connector_id)
    mode = posted_mode(request.form, DEFAULT_MODE)
    return _dialog_html(ctx, mode, posted_rules(request.form), whole=True)


@bp.post("/connectors/<connector_id>/settings/stop-ban/dialog/update")
@login_required
def dialog_update(connector_id: str):
    """A field chosen inside the dialog: its value inputs re-rendered for the field's type."""
    ctx = _context(connector_id)
    mode = posted_mode(request.form, DEFAULT_MODE)
    return _dialog_html(ctx, mode, posted_rules(request.form))


@bp.post("/connectors/<connector_id>/settings/stop-ban/dialog/apply")
@login_required
def dialog_apply(connector_id: str):
    """「閉じる」: check both rules; put them (hidden inputs + summary) on the page."""
    ctx = _context(connector_id)
    mode = posted_mode(request.form, DEFAULT_MODE)
    rules = posted_rules(request.form)
    _stop, _ban, errors = parse_rules(
        mode, rules, ctx.kintone_fields, email_field(ctx, request.form)
    )
    if errors:
        return hx_response(_dialog_html(ctx, mode, rules, errors), UNPROCESSABLE)
    html = render_template(
        "settings/_stop_ban_rules.html",
        connector=ctx.connector,
        view=rules_view(mode, rules, ctx),
        errors={},
    )
    return hx_response(
        html, 200, retarget=RULES_TARGET, reswap="outerHTML", trigger={CLOSE_MODAL: {}}
    )


@bp.post("/connectors/<connector_id>/settings/stop-ban/rules")
@login_required
def rules(connector_id: str):
    """The rules on the page re-rendered for the 連携種別 just chosen."""
    ctx = _context(connector_id)
    mode = posted_mode(request.form, DEFAULT_MODE)
    return render_template(
        "settings/_stop_ban_rules.html",
        connector=ctx.connector,
        view=rules_view(mode, posted_rules(request.form), ctx),
        errors={},
    )
