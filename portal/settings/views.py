"""連携設定 screen: the page, its 「保存」, the sync buttons, the plugin token and the dialogs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from portal.connector_types.registry import kind_label
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.models import Connector
from portal.models.settings import HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings import service, syncing
from portal.settings.mapping import (
    MappingRuleError,
    add_row,
    effective_email_name,
    remove_row,
    resolve_names,
    rows_from_form,
    validate_rows,
)
from portal.settings.mapping_step import mapping_view
from portal.settings.sections import (
    HAIHAI_SYNCED,
    KINTONE_SYNCED,
    Section,
    SectionContext,
    drifted_sections,
    section_for,
    sections_for,
)
from portal.settings.step_fields import sync_view
from portal.web.htmx import hx_response, is_htmx

log = logging.getLogger(__name__)

bp = Blueprint("settings", __name__)

CLOSE_MODAL = "settingsCloseModal"
UNPROCESSABLE = 422


def _context(connector_id: str, *, confirmed: bool = False) -> SectionContext:
    connector = get_own_connector_or_404(connector_id)
    return service.make_context(get_session(), connector, current_app.config, confirmed=confirmed)


def _render_section(
    section: Section, ctx: SectionContext, form: MultiDict | None = None
) -> dict[str, Any]:
    values = section.posted_values(form, ctx) if form is not None else section.stored_values(ctx)
    return {"section": section, "vals": values, "view": section.view_context(ctx, values)}


def _form_html(
    ctx: SectionContext,
    form: MultiDict | None = None,
    errors: dict[str, str] | None = None,
    *,
    page_errors: list[str] | None = None,
    notice: str | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> str:
    items = [_render_section(section, ctx, form) for section in sections_for(ctx.connector)]
    for item in items:
        item["view"].update((extra or {}).get(item["section"].key, {}))
    return render_template(
        "settings/_form.html",
        connector=ctx.connector,
        items=items,
        errors=errors or {},
        page_errors=page_errors or [],
        notice=notice,
    )


def _section_html(
    key: str,
    ctx: SectionContext,
    form: MultiDict | None = None,
    errors: dict[str, str] | None = None,
    **view_extra: Any,
) -> str:
    item = _render_section(section_for(ctx.connector, key), ctx, form)
    item["view"].update(view_extra)
    return render_template(
        "settings/_section.html", connector=ctx.connector, item=item, errors=errors or {}
    )


# --- the page and 「保存」 ------------------------------------------------------------------


@bp.get("/connectors/<connector_id>/settings")
@login_required
def edit(connector_id: str) -> ResponseReturnValue:
    """The 連携設定 page with every Step, filled from the stored settings."""
    ctx = _context(connector_id)
    return render_template("settings/edit.html", connector=ctx.connector, form_html=_form_html(ctx))


@bp.post("/connectors/<connector_id>/settings")
@login_required
def save(connector_id: str) -> ResponseReturnValue:
    """「保存」: validate every Step; store all of it or nothing (422 with the messages)."""
    confirmed = request.form.get("confirmed") == "1"
    ctx = _context(connector_id, confirmed=confirmed)
    session = ctx.session
    try:
        service.save_settings(
            session, ctx.connector, request.form, current_app.config, confirmed=confirmed
        )
    except service.SettingsInvalid as invalid:
        # ctx.parsed still holds what each section parsed (e.g. the posted 連携設定方法), so the
        # sections render the posted values consistently; stored rows were rolled back.
        html = _form_html(
            ctx,
            request.form,
            {**invalid.editor_errors, **invalid.errors},
            page_errors=[msg.SAVE_FAILED, *invalid.page_errors],
        )
        return hx_response(html, UNPROCESSABLE) if is_htmx() else (html_page(ctx, html), 422)
    except service.ScheduleConfirmationRequired as confirm:
        html = render_template(
            "settings/_confirm_dialog.html", connector=ctx.connector, messages=confirm.messages
        )
        return hx_response(html, 200, retarget="#modal-container", reswap="innerHTML")
    log.info("settings_saved connector_id=%s", connector_id)
    if not is_htmx():
        flash(msg.SAVED, "success")
        return redirect(url_for("settings.edit", connector_id=connector_id))
    ctx = _context(connector_id)
    return hx_response(_form_html(ctx, notice=msg.SAVED), 200, trigger={"settingsSaved": {}})


def html_page(ctx: SectionContext, form_html: str) -> str:
    """The whole page around an already rendered form (non-htmx fallback)."""
    return render_template("settings/edit.html", connector=ctx.connector, form_html=form_html)


@bp.route("/connectors/<connector_id>/settings/sections/<key>", methods=["GET", "POST"])
@login_required
def section(connector_id: str, key: str) -> ResponseReturnValue:
    """One section re-rendered after a sync changed what it draws from.

    GET: from the stored settings. POST (the page's form, `after` = the sync event): with the
    values on the page, so unsaved edits survive a sync, unless that sync removed something of
    this section from storage (its 同期結果詳細 lists it): then from storage, like a reload.
    """
    ctx = _context(connector_id)
    try:
        section_for(ctx.connector, key)
    except KeyError:
        abort(404)
    if request.method == "GET":
        return _section_html(key, ctx)
    reports = {
        KINTONE_SYNCED: ctx.settings.kintone_sync_report,
        HAIHAI_SYNCED: ctx.settings.haihai_sync_report,
    }
    if key in drifted_sections(reports.get(request.args.get("after", ""))):
        return _section_html(key, ctx)
    return _section_html(key, ctx, request.form)


# --- Step1: plugin token ---------------------------------------------------------------------


@bp.post("/connectors/<connector_id>/settings/plugin-token")
@login_required
def plugin_token(connector_id: str) -> ResponseReturnValue:
    """「発行」/「再発行」: a new plugin token, shown this once; the old one stops working."""
    ctx = _context(connector_id)
    token = service.issue_plugin_token(ctx.session, ctx.connector)
    log.info("plugin_token_issued connector_id=%s", connector_id)
    ctx = _context(connector_id)
    return render_template(
        "settings/_plugin_token.html",
        connector=ctx.connector,
        view=section_for(ctx.connector, "step1").view_context(ctx, {}),
        new_token=token,
    )


# --- Step2 / Step3: sync buttons and their result dialogs ------------------------------------


@bp.post("/connectors/<connector_id>/settings/haihai-sync")
@login_required
def haihai_sync(connector_id: str) -> ResponseReturnValue:
    """「配配メール設定の同期」: fetch and store items, groups, step plans and forms."""
    return _run_sync(connector_id, "step2", syncing.sync_haihai, HAIHAI_SYNCED)


@bp.post("/connectors/<connector_id>/settings/kintone-sync")
@login_required
def kintone_sync(connector_id: str) -> ResponseReturnValue:
    """「kintone項目の同期」: fetch and store the app's fields, check the token's permissions."""
    return _run_sync(connector_id, "step3", syncing.sync_kintone, KINTONE_SYNCED)


def _run_sync(
    connector_id: str, section: str, sync: Callable[[SectionContext, MultiDict], object], event: str
) -> ResponseReturnValue:
    """Run one sync button's `sync` and answer with its section (errors shown inline)."""
    ctx = _context(connector_id)
    try:
        sync(ctx, request.form)
    except syncing.SyncInputInvalid as invalid:
        return hx_response(_section_html(section, ctx, request.form, invalid.errors), UNPROCESSABLE)
    except syncing.SyncFailed as failed:
        return hx_response(_section_html(section, ctx, request.form, sync_error=failed.message))
    ctx = _context(connector_id)
    # Everything the section holds was stored by the sync: show storage, not the post.
    html = _section_html(section, ctx, just_synced=True)
    return hx_response(html, trigger={event: {}})


@bp.post("/connectors/<connector_id>/settings/kintone-check")
@login_required
def kintone_check(connector_id: str) -> ResponseReturnValue:
    """接続テスト: report which permissions the kintone API token lacks (stores nothing)."""
    ctx = _context(connector_id)
    try:
        notice = syncing.check_kintone_connection(ctx, request.form)
    except syncing.SyncInputInvalid as invalid:
        return hx_response(_section_html("step3", ctx, request.form, invalid.errors), UNPROCESSABLE)
    except syncing.SyncFailed as failed:
        return _section_html("step3", ctx, request.form, check_error=failed.message)
    return _section_html("step3", ctx, request.form, check_notice=notice)


def _result_dialog(title: str, headline: str, synced_at: Any, report: dict | None) -> str:
    view = sync_view(synced_at, report)
    groups: dict[str, dict[str, Any]] = {}
    for entry in view["entries"]:
        group = groups.setdefault(entry.group, {"headers": entry.headers, "rows": []})
        group["rows"].append(entry.cells)
    return render_template(
        "settings/_sync_result_dialog.html",
        title=title,
        headline=headline,
        warnings=view["warnings"],
        groups=groups,
    )


@bp.get("/connectors/<connector_id>/settings/haihai-sync/result")
@login_required
def haihai_sync_result(connector_id: str) -> ResponseReturnValue:
    """「配配メール設定の同期 結果詳細」 dialog of the last re-sync."""
    ctx = _context(connector_id)
    s = ctx.settings
    return _result_dialog(
        "配配メール設定の同期 結果詳細",
        msg.HAIHAI_DRIFT_HEADLINE,
        s.haihai_synced_at,
        s.haihai_sync_report,
    )


@bp.get("/connectors/<connector_id>/settings/kintone-sync/result")
@login_required
def kintone_sync_result(connector_id: str) -> ResponseReturnValue:
    """「kintone項目の同期 結果詳細」 dialog of the last re-sync."""
    ctx = _context(connector_id)
    s = ctx.settings
    return _result_dialog(
        "kintone項目の同期 結果詳細",
        msg.KINTONE_DRIFT_HEADLINE,
        s.kintone_synced_at,
        s.kintone_sync_report,
    )


# --- Step4: the 「連携項目の設定」 dialog -------------------------------------------------------


def _dialog_state(ctx: SectionContext, source: MultiDict) -> dict[str, Any]:
    method = source.get("haihai_method") or ctx.settings.haihai_method
    if method not in (HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED):
        method = HAIHAI_METHOD_MANUAL
    rows = rows_from_form(source)
    if method == HAIHAI_METHOD_SYNCED:
        rows = resolve_names(rows, ctx.haihai_snapshot)
    custom = (source.get("email_custom") or "") in ("1", "on", "true")
    return {
        "method": method,
        "rows": rows,
        "email_custom": custom and method == HAIHAI_METHOD_MANUAL,
        "email_display_name": (source.get("email_display_name") or "").strip(),
    }


def _dialog_html(
    ctx: SectionContext,
    state: dict[str, Any],
    errors: dict[str, str] | None = None,
    *,
    whole: bool = False,
    new_field: str = "",
) -> str:
    view = mapping_view(state["rows"], ctx, state["method"])
    return render_template(
        "settings/_mapping_dialog.html" if whole else "settings/_mapping_dialog_content.html",
        connector=ctx.connector,
        view=view,
        state=state,
        errors=errors or {},
        new_field=new_field,
    )


@bp.get("/connectors/<connector_id>/settings/mapping")
@login_required
def mapping_dialog(connector_id: str) -> ResponseReturnValue:
    """Open 「連携項目の設定」 with the rows currently on the page (sent as query arguments)."""
    ctx = _context(connector_id)
    return _dialog_html(ctx, _dialog_state(ctx, request.args), whole=True)


@bp.post("/connectors/<connector_id>/settings/mapping")
@login_required
def mapping_dialog_update(connector_id: str) -> ResponseReturnValue:
    """「追加」 / 「×」 inside the dialog: the dialog re-rendered with the rows changed."""
    ctx = _context(connector_id)
    state = _dialog_state(ctx, request.form)
    action = request.form.get("action", "")
    errors: dict[str, str] = {}
    try:
        if action == "add":
            state["rows"] = add_row(
                state["rows"],
                (request.form.get("new_field") or "").strip(),
                ctx.kintone_fields,
                method=state["method"],
                snapshot=ctx.haihai_snapshot,
                email_name=effective_email_name(state["email_custom"], state["email_display_name"]),
            )
        elif action == "remove":
            state["rows"] = remove_row(state["rows"], int(request.form.get("index", "-1")))
    except MappingRuleError as refused:
        errors["new_field" if action == "add" else "mapping"] = refused.message
    except ValueError:
        abort(400)
    return _dialog_html(ctx, state, errors)


@bp.post("/connectors/<connector_id>/settings/mapping/apply")
@login_required
def mapping_apply(connector_id: str) -> ResponseReturnValue:
    """「閉じる」: check the rows and put them on the page (saved later by 「保存」)."""
    ctx = _context(connector_id)
    state = _dialog_state(ctx, request.form)
    errors = validate_rows(
        state["rows"],
        method=state["method"],
        kintone_fields=ctx.kintone_fields,
        snapshot=ctx.haihai_snapshot,
        email_custom=state["email_custom"],
        email_display_name=state["email_display_name"],
    )
    if errors:
        return hx_response(_dialog_html(ctx, state, errors), UNPROCESSABLE)
    view = mapping_view(state["rows"], ctx, state["method"])
    html = render_template(
        "settings/_mapping_summary.html",
        connector=ctx.connector,
        view=view,
        values=state,
        errors={},
    )
    return hx_response(
        html, 200, retarget="#step4-mapping", reswap="outerHTML", trigger={CLOSE_MODAL: {}}
    )


@bp.app_template_global()
def settings_connector_name(connector: Connector) -> str:
    """The name shown in the page title (連携設定名, or the type for a new connector)."""
    return connector.name or kind_label(connector.kind)
