"""The blueprint every inbound endpoint lives on: no CSRF, no session, JSON errors, CORS, limits.

    bp = inbound_blueprint("kintone_plugin_api", __name__, url_prefix="/inbound/…",
                           origin_allowed=lambda origin: …)

CSRF protection is lifted for these blueprints only: their requests authenticate with a token in
a header, which a cross-site form cannot send, and carry no session cookie.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request

from portal.extensions import csrf
from portal.inbound import cors
from portal.inbound.errors import register_error_handlers

_INBOUND_BLUEPRINTS: set[str] = set()
_INBOUND_PREFIXES: set[str] = set()


def is_inbound(blueprint_name: str | None) -> bool:
    """True when `blueprint_name` serves inbound requests (they never use the browser session)."""
    return blueprint_name in _INBOUND_BLUEPRINTS


def is_inbound_path(path: str) -> bool:
    """True when `path` lies under an inbound blueprint's URL prefix (matched or not)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _INBOUND_PREFIXES)


def inbound_blueprint(
    name: str,
    import_name: str,
    *,
    url_prefix: str,
    origin_allowed: Callable[[str], bool],
    methods: str = "GET, POST",
) -> Blueprint:
    """A blueprint for requests from outside the browser session (see the module docstring).

    `origin_allowed(origin)` decides which origins a preflight admits; the token decorator then
    narrows a real request to its connector's own origin (`cors.require_connector_origin`).
    """
    blueprint = Blueprint(name, import_name, url_prefix=url_prefix)
    csrf.exempt(blueprint)
    register_error_handlers(blueprint)
    _INBOUND_BLUEPRINTS.add(name)
    _INBOUND_PREFIXES.add(url_prefix.rstrip("/"))

    @blueprint.before_request
    def _before() -> Response | None:
        # The limiter's storage is this Redis: start the embedded one on first use.
        from portal.queueing import redis_url

        redis_url()
        origin = cors.request_origin()
        if origin is not None and origin_allowed(origin):
            cors.admit(origin)
        if request.method == "OPTIONS":
            return cors.preflight(methods)
        return None

    @blueprint.after_request
    def _after(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return cors.add_headers(response)

    return blueprint
