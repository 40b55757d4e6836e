"""Requests from outside the browser session (the kintone plugin; later webhooks).

An inbound endpoint lives on a blueprint made by `inbound_blueprint` (JSON errors in Japanese,
CSRF exempt, no session, CORS limited to the calling connector's origin), authenticates with
`token_required` against hashed tokens, and declares its rate limits with the decorators of
`portal.inbound.limits` (Flask-Limiter on the portal's Redis). A connector type lists such
blueprints in `ConnectorType.inbound`; `portal.connector_types.wiring` registers them.
"""

from __future__ import annotations

from flask import Flask

from portal.inbound.auth import authenticated_connector, bearer_token, token_required
from portal.inbound.blueprint import inbound_blueprint, is_inbound
from portal.inbound.errors import InboundError, json_error

__all__ = [
    "InboundError",
    "authenticated_connector",
    "bearer_token",
    "inbound_blueprint",
    "init_app",
    "is_inbound",
    "json_error",
    "token_required",
]


def init_app(app: Flask) -> None:
    """Set up what inbound endpoints share on `app`: the rate limiter and JSON 404/405.

    Blueprint error handlers never see a URL that matched no route, so unknown paths under an
    inbound prefix are answered here (every other path gets the portal's Japanese error page).
    """
    from flask import request
    from werkzeug.exceptions import HTTPException

    from portal.inbound import limits
    from portal.inbound.blueprint import is_inbound_path
    from portal.inbound.errors import http_error_response

    limits.init_app(app)

    def unmatched(error: HTTPException):
        if is_inbound_path(request.path):
            return http_error_response(error)
        from portal.web.errors import http_error  # every other path answers in Japanese too

        return http_error(error)

    app.register_error_handler(404, unmatched)
    app.register_error_handler(405, unmatched)
