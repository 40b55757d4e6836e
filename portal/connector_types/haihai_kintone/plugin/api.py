"""The kintone plugin's endpoint (inbound): start 顧客情報連携 (kintoneからの実行), follow it.

    GET  /inbound/kintone-plugin/v1/connection?app=ID   the connector and its runnable settings
    POST /inbound/kintone-plugin/v1/runs                {"app", "setting", "condition"} → 202 run
                                                        (200 with the run already under way)
    GET  /inbound/kintone-plugin/v1/runs/<タスクID>      the run's status, counts and details

Every call presents the connector's plugin token as `Authorization: Bearer …` — the plugin's
settings store it with `kintone.plugin.app.setProxyConfig`, and kintone's proxy adds it, so the
record list's scripts never see it. Errors are JSON with Japanese messages (portal.inbound).
"""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from werkzeug.wrappers import Response

from portal.connector_types.haihai_kintone.plugin import service
from portal.connector_types.loading import load_connector_config
from portal.db import get_session
from portal.inbound import (
    InboundError,
    authenticated_connector,
    inbound_blueprint,
    limits,
    token_required,
)
from portal.inbound.errors import MSG_MEDIA_TYPE, MSG_TOO_LARGE
from portal.models.connectors import HAIHAI_KINTONE
from portal.models.settings import ConnectorSettings
from portal.settings.service import verify_plugin_token

URL_PREFIX = "/inbound/kintone-plugin/v1"
PER_TOKEN = "PLUGIN_RATE_LIMIT_PER_TOKEN"
STARTS_PER_TOKEN = "PLUGIN_RUN_STARTS_PER_TOKEN"
# Polling every 3 s from a few open list pages stays far below this.
PER_TOKEN_DEFAULT = "240 per minute"
STARTS_PER_TOKEN_DEFAULT = "10 per minute"
MAX_BODY_BYTES = 64 * 1024


def _template() -> str:
    return current_app.config.get("KINTONE_BASE_URL_TEMPLATE") or service.DEFAULT_TEMPLATE


def _origin_allowed(origin: str) -> bool:
    return bool(service.origin_pattern(_template()).match(origin))


def _connector_origin(connector) -> str | None:
    return service.kintone_origin(get_session().get(ConnectorSettings, connector.id), _template())


bp = inbound_blueprint(
    "kintone_plugin_api", __name__, url_prefix=URL_PREFIX, origin_allowed=_origin_allowed
)

plugin_token = token_required(
    verify_plugin_token,
    accept=lambda connector: connector.kind == HAIHAI_KINTONE,
    origin=_connector_origin,
)
per_token = limits.per_token(PER_TOKEN, PER_TOKEN_DEFAULT, scope="kintone-plugin")
starts_per_token = limits.per_token(
    STARTS_PER_TOKEN, STARTS_PER_TOKEN_DEFAULT, scope="kintone-plugin-starts"
)


def _settings_row(connector) -> ConnectorSettings | None:
    return get_session().get(ConnectorSettings, connector.id)


def _config(connector):
    return load_connector_config(get_session(), connector.id)


def _timezone(connector) -> str:
    default = current_app.config.get("PORTAL_TIMEZONE", "Asia/Tokyo")
    return service.connector_timezone(get_session(), connector, default)


def _json_body() -> object:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise InboundError(413, "too_large", MSG_TOO_LARGE)
    if not request.is_json:
        raise InboundError(415, "unsupported_media_type", MSG_MEDIA_TYPE)
    payload = request.get_json(silent=True)
    if payload is None:
        raise InboundError(400, "bad_request", service.MSG_BODY)
    return payload


@bp.get("/connection")
@limits.per_address()
@limits.auth_failures_per_address()
@per_token
@plugin_token
def connection() -> Response:
    """The connector's name, whether `app` is its Step3 app, and the settings it may run."""
    connector = authenticated_connector()
    settings = _settings_row(connector)
    configured_app = (settings.kintone_app_id or "").strip() if settings else ""
    app = (request.args.get("app") or "").strip()
    config = _config(connector)
    return jsonify(
        {
            "connector": {"id": connector.id, "name": connector.name},
            "app": {
                "requested": app or None,
                "configured": configured_app or None,
                "matches": bool(configured_app) and app == configured_app,
            },
            "settings": [service.setting_summary(s) for s in service.customer_settings(config)],
        }
    )


@bp.post("/runs")
@limits.per_address()
@limits.auth_failures_per_address()
@per_token
@starts_per_token
@plugin_token
def start_run() -> Response:
    """Start 顧客情報連携 (kintoneからの実行) for the list view's condition (once)."""
    connector = authenticated_connector()
    run_request = service.parse_run_request(_json_body())
    service.check_app(_settings_row(connector), run_request.app_id)
    service.runnable_setting(_config(connector), run_request.setting)
    from portal.queueing import get_redis

    run, started = service.start_plugin_run(get_session(), get_redis(), connector, run_request)
    body = service.run_json(run, connector, _timezone(connector))
    body["started"] = started
    body["already_running"] = not started
    response = jsonify(body)
    response.status_code = 202 if started else 200
    response.headers["Location"] = url_for(".run_status", task_id=run.id)
    return response


@bp.get("/runs/<task_id>")
@limits.per_address()
@limits.auth_failures_per_address()
@per_token
@plugin_token
def run_status(task_id: str) -> Response:
    """The plugin run `task_id` of the token's connector."""
    connector = authenticated_connector()
    run = service.find_plugin_run(get_session(), connector.id, task_id)
    return jsonify(service.run_json(run, connector, _timezone(connector)))
