"""Token authentication of inbound requests: `Authorization: Bearer <token>` against hashes.

The endpoint passes the verifier (e.g. `portal.settings.service.verify_plugin_token`), which
compares hashes in constant time and answers the token's connector or None. Every refusal looks
the same, so an answer never tells whether a token exists, was revoked or belongs elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from portal.db import get_session
from portal.inbound import cors
from portal.inbound.errors import InboundError

MSG_INVALID_TOKEN = (
    "プラグイン用トークンが正しくありません。"
    "配配メールコネクタの連携設定画面（Step1）で発行したトークンを、プラグインの設定に入力してください。"
    "トークンを再発行した場合は、新しいトークンに変更してください。"
)
MAX_TOKEN_LENGTH = 256

TokenVerifier = Callable[[Any, str], Any]


def bearer_token() -> str | None:
    """The token of the `Authorization: Bearer …` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_TOKEN_LENGTH:
        return None
    return value


def invalid_token() -> InboundError:
    """The one answer to a missing, malformed, unknown or revoked token."""
    return InboundError(
        401, "invalid_token", MSG_INVALID_TOKEN, {"WWW-Authenticate": 'Bearer realm="portal"'}
    )


def authenticated_connector():
    """The connector the current request's token belongs to (set by `token_required`)."""
    return g.inbound_connector


def token_required(
    verify: TokenVerifier,
    *,
    accept: Callable[[Any], bool] = lambda connector: True,
    origin: Callable[[Any], str | None] = lambda connector: None,
):
    """Decorator: the view runs only for a valid token; `g.inbound_connector` is its connector.

    `accept(connector)` narrows which connectors may call (e.g. one connector type); a token of
    another connector is refused exactly like an unknown one. `origin(connector)` is the only
    origin a cross-origin (browser) request of that connector may come from.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            connector = verify(get_session(), token) if token else None
            if connector is None or not accept(connector):
                raise invalid_token()
            cors.require_connector_origin(origin(connector))
            g.inbound_connector = connector
            return view(*args, **kwargs)

        return wrapper

    return decorate
