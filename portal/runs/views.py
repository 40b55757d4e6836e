"""実行 page (F-RUN-1, F-RUN-4), the 連携ログ partials (F-LOG-1…4) and the schedule editor partial."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.connector_types.loading import ConnectorNotFound, load_connector_config
from portal.connector_types.registry import UnknownConnectorType
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.runs import service
from portal.runs.log_pages import DEFAULT_COUNT_LIMIT
from portal.runs.schedule_form import VARIANT_INTERVALS, editor_values_from_form
from portal.runs.targets import TIMING_OFF_HINT, run_params, run_targets
from portal.syncs.context import RunOptionsInvalid
from portal.web.htmx import STOP_POLLING, hx_response, is_htmx

bp = Blueprint("runs", __name__)

PER_PAGE_CHOICES = (5, 10, 25, 50)
DEFAULT_PER_PAGE = 5
RUNS_CHANGED = "runs-changed"
_RUN_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def _own_connector(connector_id: str):
    return get_own_connector_or_404(connector_id)


def _load_config(connector):
    """The connector's configuration as its type loads it."""
    try:
        return load_connector_config(get_session(), connector.id)
    except ConnectorNotFound:
        abort(404)


@bp.get("/connectors/<connector_id>/run")
@login_required
def run_page(connector_id: str) -> str:
    """The 実行 page: one 「実行する」 per process."""
    connector = _own_connector(connector_id)
    try:
        targets = run_targets(connector, _load_config(connector))
    except UnknownConnectorType:
        abort(404)
    return render_template(
        "runs/run_page.html",
        connector=connector,
        targets=targets,
        off_hint=TIMING_OFF_HINT,
    )


@bp.post("/connectors/<connector_id>/run/<process_key>")
@login_required
def start(connector_id: str, process_key: str) -> Response | tuple[str, int]:
    """Create a manual run of `process_key` and show it in the 連携ログ at once."""
    connector = _own_connector(connector_id)
    config = _load_config(connector)
    try:
        targets = run_targets(connector, config)
    except UnknownConnectorType:
        abort(404)
    target = next((t for t in targets if t.key == process_key), None)
    if target is None:
        abort(404)
    process = target.process
    if not target.enabled:
        return _refuse(connector.id, target, TIMING_OFF_HINT)
    try:
        params = run_params(process, request.form, config)
    except RunOptionsInvalid as refused:
        return _refuse(connector.id, target, refused.message)
    run = service.create_run(
        get_session(), connector.id, process.key, trigger="manual", params=params
    )
    # Another run of the group is unfinished (a double click, a timed run): the run was
    # recorded as エラー at once and will not execute; say so now, with its タスクID.
    refused = run.error_detail if run.finished else None
    if is_htmx():
        body = render_template("runs/_start_result.html", target=target, run=run, error=refused)
        return hx_response(body, 200, trigger=RUNS_CHANGED)
    if refused:
        flash(f"{refused} タスクID:{run.id}", "error")
    else:
        flash(f"「{process.name}」を実行しました。タスクID:{run.id}", "success")
    return redirect(url_for("connectors.index"))


def _refuse(connector_id: str, target, message: str) -> Response | tuple[str, int]:
    """Answer a refused 「実行する」: the message next to the button, nothing started."""
    if is_htmx():
        body = render_template("runs/_start_result.html", target=target, error=message, run=None)
        return body, 422
    flash(message, "error")
    return redirect(url_for("runs.run_page", connector_id=connector_id))


def _run_id_arg(name: str) -> str | None:
    """A run id (ULID) from the query string; anything else is ignored."""
    value = request.args.get(name, "")
    return value if _RUN_ID.fullmatch(value) else None


def _page_args() -> tuple[int, int, str | None]:
    page = request.args.get("page", 1, type=int) or 1
    per_page = request.args.get("per_page", DEFAULT_PER_PAGE, type=int)
    if per_page not in PER_PAGE_CHOICES:
        per_page = DEFAULT_PER_PAGE
    connector_id = request.args.get("connector") or None
    return page, per_page, connector_id


@bp.get("/runs/log")
@login_required
def log() -> str:
    """The 連携ログ table partial of the signed-in account, newest first.

    `start` (first run of the page) and `after` (run just below the page) are the keys the
    pager's links carry; `page` only numbers the rows shown.
    """
    page, per_page, connector_id = _page_args()
    if connector_id:
        _own_connector(connector_id)
    result = service.log_page(
        get_session(),
        current_user.id,
        page,
        per_page,
        connector_id,
        start=_run_id_arg("start"),
        after=_run_id_arg("after"),
        count_limit=current_app.config.get("RUN_LOG_COUNT_LIMIT", DEFAULT_COUNT_LIMIT),
    )
    return render_template(
        "runs/_log.html",
        log=result,
        per_page_choices=PER_PAGE_CHOICES,
        connector_filter=connector_id,
        estimate=service.estimate_remaining,
    )


@bp.app_template_global()
def run_log_first_page(connector_id: str | None = None) -> dict:
    """What runs/_log.html needs for the first page of the signed-in account's 連携ログ, so pages
    render the log with themselves (a log loaded afterwards could miss a run started meanwhile)."""
    result = service.log_page(
        get_session(),
        current_user.id,
        1,
        DEFAULT_PER_PAGE,
        connector_id,
        count_limit=current_app.config.get("RUN_LOG_COUNT_LIMIT", DEFAULT_COUNT_LIMIT),
    )
    return {
        "log": result,
        "per_page_choices": PER_PAGE_CHOICES,
        "connector_filter": connector_id,
        "estimate": service.estimate_remaining,
    }


def _own_run_or_404(run_id: str):
    found = service.get_account_run(get_session(), current_user.id, run_id)
    if found is None:
        abort(404)
    return found


@bp.get("/runs/<run_id>/row")
@login_required
def row(run_id: str) -> Response:
    """One 連携ログ row; it polls itself while unfinished and answers 286 once finished."""
    run, connector_name = _own_run_or_404(run_id)
    body = render_template(
        "runs/_row.html",
        run=run,
        connector_name=connector_name,
        estimate=service.estimate_remaining,
    )
    if run.finished:
        # Stop any poller and let the log re-read its page (order, new runs).
        return hx_response(body, STOP_POLLING, trigger=RUNS_CHANGED)
    return hx_response(body, 200)


@bp.get("/runs/<run_id>/error")
@login_required
def error_detail(run_id: str) -> str:
    """The 「エラー詳細」 dialog of a run."""
    return _detail_dialog(run_id, "error", "エラー詳細")


@bp.get("/runs/<run_id>/message")
@login_required
def message_detail(run_id: str) -> str:
    """The 「メッセージ詳細」 dialog of a run (diff imports)."""
    return _detail_dialog(run_id, "message", "メッセージ詳細")


def _detail_dialog(run_id: str, kind: str, title: str) -> str:
    """Render the run's `<kind>_detail` text in a dialog titled `title`; 404 when it has none."""
    run, _name = _own_run_or_404(run_id)
    text = getattr(run, f"{kind}_detail")
    if not text:
        abort(404)
    return render_template("runs/_detail_dialog.html", run=run, title=title, text=text, kind=kind)


@bp.get("/runs/schedule-editor")
@login_required
def schedule_editor() -> str:
    """The schedule editor re-rendered for the values in the query (timing/interval changes)."""
    prefix = request.args.get("prefix", "")
    variant = request.args.get("variant", "standard")
    if not prefix or variant not in VARIANT_INTERVALS:
        abort(400)
    values = editor_values_from_form(request.args, prefix, variant)
    return render_template(
        "runs/_schedule_editor.html",
        prefix=prefix,
        values=values,
        variant=variant,
        allow_off=request.args.get("allow_off", "1") != "0",
    )
