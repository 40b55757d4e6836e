"""Step5 partials: a setting block re-rendered, 追加/削除 of settings, the 「連携条件の設定」 dialog
and 「条件を確認」 (the generated kintone query and how many records match now).

Every endpoint is a POST made from inside a form (the settings page or the dialog), so htmx sends
that whole form; nothing here stores anything — 「保存」 of the page does. The dialog rows post
as `cond-<i>-field`, `-operator`, and the value inputs of the field's type (`-value`, `-choices`,
`-date_kind`, `-date_value`, `-amount`, `-unit`, `-direction`, `-weekday`, `-day`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import login_required

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    MAX_CONDITIONS,
    MSG_CONDITIONS_FORMAT,
    MSG_CONDITIONS_TOO_MANY,
    condition_fields,
    condition_set_from_json,
    conditions_json_text,
    summarize,
)
from portal.connector_types.haihai_kintone.customer.condition_terms import (
    MATCH_LABELS,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    build_query,
)
from portal.connector_types.haihai_kintone.customer.config import ConditionSet
from portal.connector_types.haihai_kintone.customer.dialog_state import (
    RowState,
    dialog_conditions,
    new_row,
    row_from_condition,
    row_view,
    rows_from_form,
)
from portal.connector_types.haihai_kintone.customer.section import account_timezone
from portal.connector_types.haihai_kintone.customer.setting_form import (
    MAX_SETTINGS,
    default_values,
    field_name,
    posted_setting_values,
)
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.integrations import kintone as kintone_api
from portal.messages.kintone import conditions_step, kintone_message
from portal.settings import messages as msg
from portal.settings import service
from portal.settings.sections import SectionContext, section_for
from portal.syncs.clients import INTERACTIVE, kintone_access, kintone_client
from portal.web.htmx import hx_response

log = logging.getLogger(__name__)

bp = Blueprint("customer_settings", __name__)

UNPROCESSABLE = 422
CLOSE_MODAL = "settingsCloseModal"  # the page closes the open dialog on this event
MSG_KINTONE_NOT_READY = "kintone連携設定が完了していません。「Step3. kintone連携設定」で「kintone項目の同期」を行ってください。"


# --- helpers ---------------------------------------------------------------------------------


def _context(connector_id: str) -> SectionContext:
    connector = get_own_connector_or_404(connector_id)
    return service.make_context(get_session(), connector, current_app.config)


def _check_number(number: int) -> None:
    if not 1 <= number <= MAX_SETTINGS:
        abort(404)


def _posted_values(ctx: SectionContext) -> dict[str, Any]:
    """Step5's template values as posted with the page (settings and 連携設定方法)."""
    return section_for(ctx.connector, "step5").posted_values(request.form, ctx)


def _render_values(ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
    return {"values": values, "view": section_for(ctx.connector, "step5").view_context(ctx, values)}


def _settings_html(ctx: SectionContext, values: dict[str, Any]) -> str:
    return render_template(
        "settings/_step5_settings.html",
        connector=ctx.connector,
        errors={},
        **_render_values(ctx, values),
    )


# --- the setting blocks ----------------------------------------------------------------------


@bp.post("/connectors/<connector_id>/settings/customer/<int:number>/block")
@login_required
def block(connector_id: str, number: int):
    """One setting re-rendered from the posted page (after 連携先種別 / 連携形式 changed)."""
    _check_number(number)
    ctx = _context(connector_id)
    values = _posted_values(ctx)
    setting = next((s for s in values["settings"] if s.number == number), None)
    if setting is None:
        setting = posted_setting_values(request.form, number)
        values["settings"].append(setting)
    return render_template(
        "settings/_step5_setting.html",
        connector=ctx.connector,
        setting=setting,
        errors={},
        **_render_values(ctx, values),
    )


@bp.post("/connectors/<connector_id>/settings/customer/refresh")
@login_required
def refresh(connector_id: str):
    """Every setting re-rendered as posted (after Step2's 連携設定方法 changed on the page)."""
    ctx = _context(connector_id)
    return _settings_html(ctx, _posted_values(ctx))


@bp.post("/connectors/<connector_id>/settings/customer/add")
@login_required
def add(connector_id: str):
    """「＋ 顧客情報連携設定を追加する」: the settings as posted plus the next number."""
    ctx = _context(connector_id)
    values = _posted_values(ctx)
    settings = values["settings"]
    if len(settings) < MAX_SETTINGS:
        settings.append(default_values(len(settings) + 1))
    return _settings_html(ctx, values)


@bp.post("/connectors/<connector_id>/settings/customer/remove")
@login_required
def remove(connector_id: str):
    """Remove the last added setting from the page (setting 1 always stays)."""
    ctx = _context(connector_id)
    values = _posted_values(ctx)
    if len(values["settings"]) > 1:
        values["settings"].pop()
    return _settings_html(ctx, values)


# --- the 「連携条件の設定」 dialog -------------------------------------------------------------


def _dialog_html(
    ctx: SectionContext,
    number: int,
    rows: list[RowState],
    match: str,
    errors: dict[str, str] | None = None,
    *,
    whole: bool = False,
    new_field: str = "",
    notice: str = "",
) -> str:
    fields = ctx.kintone_fields
    return render_template(
        "settings/_conditions_dialog.html" if whole else "settings/_conditions_dialog_content.html",
        connector=ctx.connector,
        number=number,
        rows=[row_view(i, row, fields) for i, row in enumerate(rows)],
        match=match if match in MATCH_LABELS else "all",
        match_labels=MATCH_LABELS,
        addable=condition_fields(fields),
        has_kintone_fields=bool(fields),
        errors=errors or {},
        new_field=new_field,
        notice=notice,
    )


@bp.post("/connectors/<connector_id>/settings/customer/<int:number>/conditions")
@login_required
def conditions_dialog(connector_id: str, number: int):
    """Open 「連携条件の設定」 with the conditions currently on the page (its hidden input)."""
    _check_number(number)
    ctx = _context(connector_id)
    notice = ""
    try:
        condition_set = condition_set_from_json(
            request.form.get(field_name(number, "conditions")) or ""
        )
    except ValueError:
        condition_set, notice = ConditionSet(), MSG_CONDITIONS_FORMAT
    rows = [row_from_condition(c) for c in condition_set.conditions]
    return _dialog_html(ctx, number, rows, condition_set.match, whole=True, notice=notice)


@bp.post("/connectors/<connector_id>/settings/customer/<int:number>/conditions/update")
@login_required
def conditions_update(connector_id: str, number: int):
    """「+ 追加」, 「×」 and value-form changes inside the dialog: the dialog re-rendered."""
    _check_number(number)
    ctx = _context(connector_id)
    rows = rows_from_form(request.form)
    match = request.form.get("match", "all")
    action = request.form.get("action", "refresh")
    errors: dict[str, str] = {}
    new_field = (request.form.get("new_field") or "").strip()
    if action == "add":
        candidates = {f["code"]: f for f in condition_fields(ctx.kintone_fields)}
        if new_field not in candidates:
            errors["new_field"] = msg.CHOOSE_FIELD_TO_ADD
        elif len(rows) >= MAX_CONDITIONS:
            errors["new_field"] = MSG_CONDITIONS_TOO_MANY
        else:
            rows.append(new_row(new_field, candidates[new_field]["type"]))
            new_field = ""
    elif action == "remove":
        try:
            index = int(request.form.get("index", ""))
        except ValueError:
            abort(400)
        if 0 <= index < len(rows):
            rows.pop(index)
    return _dialog_html(ctx, number, rows, match, errors, new_field=new_field)


@bp.post("/connectors/<connector_id>/settings/customer/<int:number>/conditions/apply")
@login_required
def conditions_apply(connector_id: str, number: int):
    """「閉じる」: check every row; put the conditions and their summary on the page."""
    _check_number(number)
    ctx = _context(connector_id)
    rows = rows_from_form(request.form)
    match = request.form.get("match", "all")
    condition_set, errors = dialog_conditions(
        rows, match, ctx.kintone_fields, account_timezone(ctx)
    )
    if errors:
        return hx_response(_dialog_html(ctx, number, rows, match, errors), UNPROCESSABLE)
    html = render_template(
        "settings/_conditions_summary.html",
        connector=ctx.connector,
        number=number,
        summary={"invalid": False, **summarize(condition_set, ctx.kintone_fields)},
        conditions_json=conditions_json_text(condition_set),
        errors={},
    )
    return hx_response(
        html,
        200,
        retarget=f"#customer-{number}-conditions-area",
        reswap="outerHTML",
        trigger={CLOSE_MODAL: {}},
    )


# --- 「条件を確認」 ------------------------------------------------------------------------------


def count_matching(ctx: SectionContext, query: str) -> int:
    """How many records of the stored customer app match `query` now (one GET, limit 1).

    Raises KintoneError; RuntimeError when Step3 is not complete.
    """
    s = ctx.settings
    if not (s.kintone_subdomain and s.kintone_app_id and s.kintone_api_token):
        raise RuntimeError(MSG_KINTONE_NOT_READY)
    access = kintone_access(
        ctx.app_config.get("KINTONE_BASE_URL_TEMPLATE"),
        s.kintone_subdomain,
        s.kintone_app_id,
        s.kintone_api_token,
    )
    with kintone_client(access, profile=INTERACTIVE) as client:
        _records, total = client.get_records(
            int(s.kintone_app_id), f"{query} limit 1".strip(), ["$id"], total_count=True
        )
    return int(total or 0)


@bp.post("/connectors/<connector_id>/settings/customer/<int:number>/conditions/check")
@login_required
def conditions_check(connector_id: str, number: int):
    """The kintone query of the conditions on the page and how many records match it now."""
    _check_number(number)
    ctx = _context(connector_id)
    result: dict[str, Any] = {"number": number, "query": None, "count": None, "error": None}
    try:
        condition_set = condition_set_from_json(
            request.form.get(field_name(number, "conditions")) or ""
        )
        fields = ctx.kintone_fields
        if not fields:
            raise RuntimeError(MSG_KINTONE_NOT_READY)
        result["query"] = build_query(condition_set, fields, tz=account_timezone(ctx))
        result["count"] = count_matching(ctx, result["query"])
    except ConditionError as error:
        result["error"] = error.message
    except (ValueError, TypeError, AttributeError):
        result["error"] = MSG_CONDITIONS_FORMAT
    except RuntimeError as error:
        result["error"] = str(error)
    except kintone_api.KintoneError as error:
        log.info(
            "settings_conditions_check_failed connector_id=%s code=%s", connector_id, error.code
        )
        step = conditions_step(ctx.settings.kintone_app_id)
        result["error"] = kintone_message(error, step)
    return render_template("settings/_conditions_check.html", **result)
