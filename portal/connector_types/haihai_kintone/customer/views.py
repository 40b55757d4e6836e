"""Step5 partials: a setting block re-rendered, 追加/削除 of settings, the 「連携条件の設定」 dialog
and 「条件を確認」 (the generated kintone query and how many records match now).

Every endpoint is a POST made from inside a form (the settings page or the dialog), so htmx sends
that whole form; nothing here stores anything — 「保存」 of the page does. The dialog rows post
as `cond-<i>-field`, `-operator`, and the value inputs of the field's type (`-value`, `-choices`,
`-date_kind`, `-date_value`, `-amount`, `-unit`, `-direction`, `-weekday`, `-day`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.condition_terms import (
    CHOICE_TYPES,
    DATE_DIRECTIONS,
    DATE_TYPES,
    DATE_UNITS,
    MATCH_LABELS,
    MULTILINE_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    choice_options,
    date_value_kinds,
    month_day_choices,
    operators_for,
    weekday_choices,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    build_query,
    condition_query,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet
from portal.connector_types.haihai_kintone.customer.section import (
    MAX_CONDITIONS,
    MAX_SETTINGS,
    MSG_CONDITIONS_FORMAT,
    MSG_CONDITIONS_TOO_MANY,
    account_timezone,
    condition_fields,
    condition_set_from_json,
    conditions_json_text,
    default_values,
    field_name,
    posted_setting_values,
    summarize,
)
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.integrations import kintone as kintone_api
from portal.settings import messages as msg
from portal.settings import service
from portal.settings.sections import SectionContext, section_for
from portal.settings.syncing import (
    INTERACTIVE_RETRY,
    INTERACTIVE_TIMEOUT,
    kintone_error_message,
)
from portal.syncs.kintone_schema import type_label
from portal.web.htmx import hx_response

log = logging.getLogger(__name__)

bp = Blueprint("customer_settings", __name__)

UNPROCESSABLE = 422
CLOSE_MODAL = "settingsCloseModal"  # the page closes the open dialog on this event
_ROW_KEY = re.compile(r"cond-(\d+)-field")
# The comparison operators are shown as kintone shows them: a symbol and the manual's word.
OPERATOR_SYMBOLS = {"eq": "=", "ne": "≠", "le": "≤", "lt": "<", "ge": "≥", "gt": ">"}
WEEK_KINDS = ("last_week", "this_week", "next_week")
MONTH_KINDS = ("last_month", "this_month", "next_month")

MSG_OPERATOR = "条件を選択してください。"
MSG_FIELD_MISSING = (
    "kintone項目「{code}」はkintoneアプリに存在しないか、連携条件に使用できない項目です。"
    "「×」で削除してください。"
)
MSG_KINTONE_NOT_READY = "kintone連携設定が完了していません。「Step3. kintone連携設定」で「kintone項目の同期」を行ってください。"


# --- the dialog's rows -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowState:
    """One dialog row as entered (any type); turned into a Condition by `row_condition`."""

    field_code: str
    operator: str = ""
    value: str = ""
    choices: tuple[str, ...] = ()
    date_kind: str = "absolute"
    date_value: str = ""
    amount: str = "1"
    unit: str = "days"
    direction: str = "before"
    weekday: str = ""
    day: str = ""


class RowInvalid(ValueError):
    """A dialog row cannot become a condition; `message` is Japanese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def family(field_type: str) -> str:
    """Which value inputs a field type gets: text, multiline, number, choice, date or none."""
    if field_type in TEXT_TYPES:
        return "text"
    if field_type in MULTILINE_TYPES:
        return "multiline"
    if field_type in NUMBER_TYPES:
        return "number"
    if field_type in CHOICE_TYPES:
        return "choice"
    if field_type in DATE_TYPES:
        return "date"
    return "none"


def operator_choices(field_type: str) -> list[tuple[str, str]]:
    """The operator select of a row: [(key, text)], e.g. ("le", "≤ (以前)")."""
    return [
        (key, f"{OPERATOR_SYMBOLS[key]} ({label})" if key in OPERATOR_SYMBOLS else label)
        for key, label in operators_for(field_type)
    ]


def new_row(code: str, field_type: str) -> RowState:
    """A row just added with 「+ 追加」: the type's first operator, an empty value."""
    operators = operators_for(field_type)
    return RowState(code, operators[0][0] if operators else "")


def row_from_condition(condition: Condition) -> RowState:
    """The dialog row showing a stored condition."""
    value = condition.value
    row = RowState(condition.field_code, condition.operator)
    kind = family(condition.field_type)
    if kind == "choice":
        items = value if isinstance(value, list | tuple) else ([] if value is None else [value])
        return replace(row, choices=tuple(str(v) for v in items))
    if kind == "date":
        spec = value if isinstance(value, Mapping) else {"kind": "absolute", "value": value or ""}
        date_kind = str(spec.get("kind") or "absolute")
        if date_kind == "absolute":
            text = str(spec.get("value") or "")
            if condition.field_type != "DATE" and len(text) > 10:
                text = text[:10] + "T" + text[11:16]  # the datetime-local input's format
            return replace(row, date_kind="absolute", date_value=text)
        if date_kind == "from_today":
            return replace(
                row,
                date_kind=date_kind,
                amount=str(spec.get("amount", "")),
                unit=str(spec.get("unit") or "days"),
                direction=str(spec.get("direction") or "before"),
            )
        weekday = spec.get("weekday")
        day = spec.get("day")
        return replace(
            row,
            date_kind=date_kind,
            weekday="" if weekday is None else str(weekday),
            day="" if day is None else str(day),
        )
    if isinstance(value, list | tuple):
        return replace(row, value=" ".join(str(v) for v in value))
    return replace(row, value="" if value is None else str(value))


def rows_from_form(form: MultiDict) -> list[RowState]:
    """The dialog rows posted, in the order of their indexes."""
    indexes = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.fullmatch(key)))
    rows = []
    for index in indexes:

        def get(name: str, default: str = "", index: int = index) -> str:
            return (form.get(f"cond-{index}-{name}") or default).strip()

        code = get("field")
        if not code:
            continue
        rows.append(
            RowState(
                field_code=code,
                operator=get("operator"),
                value=form.get(f"cond-{index}-value") or "",
                choices=tuple(form.getlist(f"cond-{index}-choices")),
                date_kind=get("date_kind", "absolute"),
                date_value=get("date_value"),
                amount=get("amount"),
                unit=get("unit", "days"),
                direction=get("direction", "before"),
                weekday=get("weekday"),
                day=get("day"),
            )
        )
    return rows


def _date_value(row: RowState) -> dict[str, Any]:
    kind = row.date_kind
    if kind == "absolute":
        return {"kind": "absolute", "value": row.date_value}
    if kind == "from_today":
        amount: int | str = row.amount
        if row.amount.isascii() and row.amount.isdigit():
            amount = int(row.amount)
        return {"kind": kind, "amount": amount, "unit": row.unit, "direction": row.direction}
    if kind in WEEK_KINDS:
        return {"kind": kind, "weekday": row.weekday or None}
    if kind in MONTH_KINDS:
        day: int | str | None = row.day or None
        if row.day.isdigit():
            day = int(row.day)
        return {"kind": kind, "day": day}
    return {"kind": kind}


def row_condition(row: RowState, fields: Mapping[str, Any], tz: str) -> Condition:
    """The Condition a row describes; RowInvalid with the Japanese reason when it is not valid."""
    prop = fields.get(row.field_code)
    field_type = str(prop.get("type")) if isinstance(prop, Mapping) else ""
    kind = family(field_type)
    if kind == "none":
        raise RowInvalid(MSG_FIELD_MISSING.format(code=row.field_code))
    if row.operator not in {key for key, _ in operators_for(field_type)}:
        raise RowInvalid(MSG_OPERATOR)
    value: Any
    if kind == "choice":
        value = tuple(dict.fromkeys(row.choices))
    elif kind == "date":
        value = _date_value(row)
    else:
        value = row.value.strip()
    condition = Condition(row.field_code, field_type, row.operator, value)
    try:
        condition_query(condition, fields, tz=tz)
    except ConditionError as error:
        raise RowInvalid(error.message) from error
    return condition


def row_view(index: int, row: RowState, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the dialog template needs for one row."""
    prop = fields.get(row.field_code)
    field_type = str(prop.get("type")) if isinstance(prop, Mapping) else ""
    kind = family(field_type)
    view: dict[str, Any] = {
        "index": index,
        "code": row.field_code,
        "label": str(prop.get("label", row.field_code)) if isinstance(prop, Mapping) else "",
        "type": field_type,
        "type_label": type_label(field_type) if field_type else "",
        "family": kind,
        "operators": operator_choices(field_type),
        "state": row,
    }
    if kind == "choice":
        view["options"] = choice_options(prop)
    if kind == "date":
        view["date_kinds"] = date_value_kinds(field_type)
        view["is_datetime"] = field_type != "DATE"
        view["units"] = list(DATE_UNITS.items())
        view["directions"] = list(DATE_DIRECTIONS.items())
        view["weekdays"] = [("" if k is None else k, label) for k, label in weekday_choices()]
        view["days"] = [("" if k is None else str(k), label) for k, label in month_day_choices()]
        view["week_kinds"] = WEEK_KINDS
        view["month_kinds"] = MONTH_KINDS
    return view


def dialog_conditions(
    rows: list[RowState], match: str, fields: Mapping[str, Any], tz: str
) -> tuple[ConditionSet, dict[str, str]]:
    """The ConditionSet of the dialog's rows and {"cond-<i>": message} for the invalid ones."""
    errors: dict[str, str] = {}
    conditions = []
    for index, row in enumerate(rows):
        try:
            conditions.append(row_condition(row, fields, tz))
        except RowInvalid as invalid:
            errors[f"cond-{index}"] = invalid.message
    if len(rows) > MAX_CONDITIONS:
        errors["conditions"] = MSG_CONDITIONS_TOO_MANY
    return ConditionSet(match if match in MATCH_LABELS else "all", tuple(conditions)), errors


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
    template = ctx.app_config.get("KINTONE_BASE_URL_TEMPLATE", "https://{subdomain}.cybozu.com")
    with kintone_api.KintoneClient(
        kintone_api.kintone_base_url(template, s.kintone_subdomain),
        api_tokens=[s.kintone_api_token],
        timeout=INTERACTIVE_TIMEOUT,
        retry=INTERACTIVE_RETRY,
    ) as client:
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
        result["error"] = kintone_error_message(error, ctx.settings.kintone_app_id)
    return render_template("settings/_conditions_check.html", **result)
