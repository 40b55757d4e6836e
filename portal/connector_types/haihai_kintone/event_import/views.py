"""Routes of Step8 / Step9 beside 「保存」: the app's 「kintone項目の同期」, 「アプリを確認」,
「kintoneアプリを作成」, the 「kintoneテンプレート」 download and the 「連携項目の設定」 dialog.

`<role>` is `reaction` (Step8) or `bridge` (Step9); each answers with its section re-rendered
(errors inline) or with a dialog, like the Step3 and Step4 routes of the settings blueprint.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.event_import import mapping as rules
from portal.connector_types.haihai_kintone.event_import import templates as app_templates
from portal.connector_types.haihai_kintone.event_import.fields import check_app
from portal.connector_types.haihai_kintone.event_import.section import EventImportSection
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.integrations import kintone as kintone_api
from portal.models.event_imports import ROLES
from portal.settings import messages as msg
from portal.settings import service, syncing
from portal.settings.sections import SectionContext, section_for
from portal.settings.step_fields import sync_view
from portal.web.htmx import hx_response

log = logging.getLogger(__name__)

bp = Blueprint("event_import_settings", __name__)

ROLE_SECTIONS = {"reaction": "step8", "bridge": "step9"}
CLOSE_MODAL = "settingsCloseModal"  # the settings page closes the open dialog on this event
UNPROCESSABLE = 422
MSG_CHECK_OK = "連携に必要なフィールドがすべて正しく設定されています。"


def _context(connector_id: str) -> SectionContext:
    connector = get_own_connector_or_404(connector_id)
    return service.make_context(get_session(), connector, current_app.config)


def _section(ctx: SectionContext, role: str) -> EventImportSection:
    if role not in ROLES:
        abort(404)
    try:
        section = section_for(ctx.connector, ROLE_SECTIONS[role])
    except KeyError:
        abort(404)
    assert isinstance(section, EventImportSection)
    return section


def _section_html(
    ctx: SectionContext,
    section: EventImportSection,
    form: MultiDict | None = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> str:
    values = section.posted_values(form, ctx) if form is not None else section.stored_values(ctx)
    view = section.view_context(ctx, values)
    view.update(extra)
    item = {"section": section, "vals": values, "view": view}
    return render_template(
        "settings/_section.html", connector=ctx.connector, item=item, errors=errors or {}
    )


# --- the app ---------------------------------------------------------------------------------


@bp.post("/connectors/<connector_id>/settings/events/<role>/app-sync")
@login_required
def app_sync(connector_id: str, role: str) -> ResponseReturnValue:
    """「kintone項目の同期」 of the process's app: store its fields, report drift and problems."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    try:
        syncing.sync_kintone_app(ctx, request.form, section.role)
    except syncing.SyncInputInvalid as invalid:
        html = _section_html(ctx, section, request.form, invalid.errors)
        return hx_response(html, UNPROCESSABLE)
    except syncing.SyncFailed as failed:
        return _section_html(ctx, section, request.form, sync_error=failed.message)
    ctx = _context(connector_id)
    return _section_html(ctx, _section(ctx, role), request.form, just_synced=True)


@bp.get("/connectors/<connector_id>/settings/events/<role>/app-sync/result")
@login_required
def app_sync_result(connector_id: str, role: str) -> ResponseReturnValue:
    """「kintone項目の同期 結果詳細」 of the process's app."""
    ctx = _context(connector_id)
    connection = _section(ctx, role).role.stored(ctx)
    view = sync_view(connection.synced_at, connection.sync_report)
    groups: dict[str, dict[str, Any]] = {}
    for entry in view["entries"]:
        group = groups.setdefault(entry.group, {"headers": entry.headers, "rows": []})
        group["rows"].append(entry.cells)
    return render_template(
        "settings/_sync_result_dialog.html",
        title="kintone項目の同期 結果詳細",
        headline=msg.KINTONE_DRIFT_HEADLINE,
        warnings=view["warnings"],
        groups=groups,
    )


@bp.post("/connectors/<connector_id>/settings/events/<role>/app-check")
@login_required
def app_check(connector_id: str, role: str) -> ResponseReturnValue:
    """「アプリを確認」: compare the app's current fields with what the process writes."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    data, errors = section.role.parse(ctx, request.form)
    if errors:
        return hx_response(_section_html(ctx, section, request.form, errors), UNPROCESSABLE)
    values = section.posted_values(request.form, ctx)
    extra = section.extra_of(values)
    try:
        with syncing.interactive_client(ctx, data) as client:
            properties = client.get_form_fields(int(data.app_id))
    except kintone_api.KintoneError as error:
        message = section.role.error_message(error, data.app_id)
        return _section_html(ctx, section, request.form, check_error=message)
    mapped = [row.kintone_code for row in values["rows"]]
    problems = check_app(properties, section.fixed_fields(ctx, extra), mapped)
    log.info(
        "event_app_checked connector_id=%s role=%s problems=%d",
        connector_id,
        role,
        len(problems),
    )
    return _section_html(
        ctx,
        section,
        request.form,
        check_problems=problems,
        check_notice=None if problems else MSG_CHECK_OK,
    )


@bp.get("/connectors/<connector_id>/settings/events/<role>/template.zip")
@login_required
def template_download(connector_id: str, role: str) -> ResponseReturnValue:
    """「kintoneテンプレート」 ダウンロード: the field definitions of the process's app."""
    ctx = _context(connector_id)
    _section(ctx, role)
    name, payload = app_templates.template_zip(role)
    return current_app.response_class(
        payload,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/connectors/<connector_id>/settings/events/<role>/app-create")
@login_required
def app_create_dialog(connector_id: str, role: str) -> ResponseReturnValue:
    """The 「kintoneアプリを作成」 dialog (an administrator's login, used once, never stored)."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    return render_template(
        "settings/_event_app_create_dialog.html",
        connector=ctx.connector,
        section=section,
        role=role,
        values={"app_name": app_templates.default_app_name(role)},
        errors={},
        whole=True,
    )


@bp.post("/connectors/<connector_id>/settings/events/<role>/app-create")
@login_required
def app_create(connector_id: str, role: str) -> ResponseReturnValue:
    """Create the app through the kintone REST API and put its ID into the section."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    form = request.form
    values = {
        "app_name": (form.get("create_app_name") or "").strip(),
        "login": form.get("create_login", ""),
    }
    errors = app_templates.validate_create_form(form)
    subdomain = section.role.subdomain(ctx)
    if not subdomain:
        errors["create"] = msg.KINTONE_SUBDOMAIN_FIRST
    if not errors:
        try:
            app_id = app_templates.create_app(
                ctx.app_config,
                subdomain,
                role,
                login=form.get("create_login", "").strip(),
                password=form.get("create_password", ""),
                name=values["app_name"],
            )
        except app_templates.AppCreationFailed as failed:
            errors["create"] = failed.message
    if errors:
        html = render_template(
            "settings/_event_app_create_dialog.html",
            connector=ctx.connector,
            section=section,
            role=role,
            values=values,
            errors=errors,
            whole=False,
        )
        return hx_response(html, UNPROCESSABLE)
    log.info("event_app_created connector_id=%s role=%s app=%s", connector_id, role, app_id)
    page = MultiDict(form)
    page.setlist(f"{section.role.prefix}_app_id", [str(app_id)])
    html = _section_html(ctx, section, page, created_notice=app_templates.created_message(app_id))
    return hx_response(
        html,
        200,
        retarget=f"#section-{section.key}",
        reswap="outerHTML",
        trigger={CLOSE_MODAL: {}},
    )


# --- 「連携項目の設定」 --------------------------------------------------------------------------


def _dialog_html(
    ctx: SectionContext,
    section: EventImportSection,
    rows: list,
    errors: dict[str, str] | None = None,
    *,
    whole: bool = False,
    new_field: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    fields = section.app_fields(ctx)
    fixed = section.fixed_fields(ctx, extra or {})
    named = rules.with_item_names(rows, ctx.haihai_snapshot)
    return render_template(
        "settings/_event_mapping_dialog.html"
        if whole
        else "settings/_event_mapping_dialog_content.html",
        connector=ctx.connector,
        section=section,
        prefix=section.role.prefix,
        fixed=fixed,
        rows=rules.describe_rows(named, fields),
        addable=rules.candidate_fields(fields, {f.code for f in fixed}, named),
        items=rules.selectable_items(ctx.haihai_snapshot),
        has_app_fields=bool(fields),
        errors=errors or {},
        new_field=new_field,
        extra=extra or {},
    )


def _dialog_extra(section: EventImportSection, source: MultiDict, ctx: SectionContext) -> dict:
    return section.extra_of(section.posted_values(source, ctx))


@bp.get("/connectors/<connector_id>/settings/events/<role>/mapping")
@login_required
def mapping_dialog(connector_id: str, role: str) -> ResponseReturnValue:
    """Open 「連携項目の設定」 with the rows currently on the page."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    rows = rules.rows_from_form(request.args, section.role.prefix)
    extra = _dialog_extra(section, request.args, ctx)
    return _dialog_html(ctx, section, rows, whole=True, extra=extra)


@bp.post("/connectors/<connector_id>/settings/events/<role>/mapping")
@login_required
def mapping_dialog_update(connector_id: str, role: str) -> ResponseReturnValue:
    """「追加」 / 「×」 inside the dialog: the dialog re-rendered with the rows changed."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    prefix = section.role.prefix
    rows = rules.rows_from_form(request.form, prefix)
    extra = _dialog_extra(section, request.form, ctx)
    fixed = {f.code for f in section.fixed_fields(ctx, extra)}
    errors: dict[str, str] = {}
    action = request.form.get("action", "")
    new_field = (request.form.get("new_field") or "").strip()
    try:
        if action == "add":
            rows = rules.add_row(
                rows, new_field, section.app_fields(ctx), fixed, ctx.haihai_snapshot
            )
            new_field = ""
        elif action == "remove":
            rows = rules.remove_row(rows, int(request.form.get("index", "-1")))
    except rules.EventMappingError as refused:
        errors["new_field"] = refused.message
    except ValueError:
        abort(400)
    return _dialog_html(ctx, section, rows, errors, new_field=new_field, extra=extra)


@bp.post("/connectors/<connector_id>/settings/events/<role>/mapping/apply")
@login_required
def mapping_apply(connector_id: str, role: str) -> ResponseReturnValue:
    """「閉じる」: check the rows and put them on the page (saved later by 「保存」)."""
    ctx = _context(connector_id)
    section = _section(ctx, role)
    prefix = section.role.prefix
    rows = rules.rows_from_form(request.form, prefix)
    extra = _dialog_extra(section, request.form, ctx)
    fixed = section.fixed_fields(ctx, extra)
    errors = rules.validate_rows(
        rows,
        prefix,
        app_fields=section.app_fields(ctx),
        fixed={f.code for f in fixed},
        snapshot=ctx.haihai_snapshot,
    )
    if errors:
        return hx_response(_dialog_html(ctx, section, rows, errors, extra=extra), UNPROCESSABLE)
    named = rules.with_item_names(rows, ctx.haihai_snapshot)
    html = render_template(
        "settings/_event_mapping_summary.html",
        connector=ctx.connector,
        view={
            "prefix": prefix,
            "fixed": fixed,
            "rows": rules.describe_rows(named, section.app_fields(ctx)),
            "maps_items": section.maps_items(extra),
        },
        errors={},
    )
    return hx_response(
        html, 200, retarget=f"#{prefix}-mapping", reswap="outerHTML", trigger={CLOSE_MODAL: {}}
    )
