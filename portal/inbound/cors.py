"""CORS of inbound endpoints: only the calling connector's own origin may read the answers.

A preflight carries no token, so it is answered for any origin the endpoint's pattern admits
(for the kintone plugin: any kintone domain of this deployment's URL template). The real request
then names its connector through the token, and an `Origin` other than that connector's own is
refused (403) before anything happens. Requests without `Origin` (kintone's plugin proxy calls
from kintone's servers) are not cross-origin and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, g, request

from portal.inbound.errors import InboundError, json_error

MSG_ORIGIN = (
    "このkintoneドメインからは実行できません。"
    "連携設定画面（Step3）のkintoneサブドメインと、プラグインを設定したkintoneを確認してください。"
)
ALLOWED_HEADERS = "Authorization, Content-Type"
MAX_AGE_SECONDS = 600


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of `url` (lower case), or None when it has no host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"


def request_origin() -> str | None:
    """The request's `Origin` header, or None (also for the opaque origin "null")."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return None
    return origin


def admit(origin: str) -> None:
    """Let `origin` read this request's answer (unless the connector check withdraws it)."""
    g.inbound_cors_origin = origin


def require_connector_origin(expected: str | None) -> None:
    """Refuse (403) a cross-origin request whose origin is not `expected`."""
    origin = request_origin()
    if origin is None:
        return
    if expected is None or origin.lower() != expected.lower():
        g.pop("inbound_cors_origin", None)
        raise InboundError(403, "origin_not_allowed", MSG_ORIGIN)


def preflight(methods: str) -> Response:
    """The answer to an OPTIONS preflight (403 without CORS headers for other origins)."""
    if g.get("inbound_cors_origin") is None:
        return json_error(403, "origin_not_allowed", MSG_ORIGIN)
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return response


def add_headers(response: Response) -> Response:
    """Add `Access-Control-Allow-Origin` for an admitted origin; always vary on Origin."""
    response.vary.add("Origin")
    origin = g.get("inbound_cors_origin")
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response
