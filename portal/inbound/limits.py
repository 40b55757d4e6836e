"""Rate limits of inbound endpoints: Flask-Limiter on the portal's Redis, shared by every process.

Limits are named by configuration keys and read per request, so a deployment (or a test) sets
them without code. Keys are the client address (behind a reverse proxy set PROXY_FIX_HOPS) and a
hash of the presented token — never the token itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.inbound.auth import bearer_token

# Configuration keys and their defaults (portal/config.py reads them from the environment).
PER_ADDRESS = "INBOUND_RATE_LIMIT_PER_ADDRESS"
AUTH_FAILURES_PER_ADDRESS = "INBOUND_AUTH_FAILURES_PER_ADDRESS"
DEFAULTS = {
    # kintone's plugin proxy calls from a few shared addresses: keep this generous.
    PER_ADDRESS: "600 per minute",
    # Only answers 401 count: guessing tokens from one address is cut off early.
    AUTH_FAILURES_PER_ADDRESS: "30 per 10 minutes",
}
KEY_PREFIX = "portal:inbound"

limiter = Limiter(
    key_func=get_remote_address,
    strategy="moving-window",
    headers_enabled=True,
    key_prefix=KEY_PREFIX,
)


def storage_uri(app: Flask) -> str:
    """The `limits` storage URI of the app's Redis (REDIS_URL, else the embedded server)."""
    url = app.config.get("REDIS_URL")
    if not url:
        from portal.embedded_redis import embedded_redis_url

        url = embedded_redis_url(app.instance_path)
    # redis-py spells a unix socket "unix://", the `limits` package "redis+unix://".
    if url.startswith("unix://"):
        url = "redis+unix://" + url[len("unix://") :]
    return url


def init_app(app: Flask) -> None:
    """Bind the limiter to `app` with the Redis storage (no limit applies outside inbound)."""
    for key, default in DEFAULTS.items():
        app.config.setdefault(key, default)
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app))
    limiter.init_app(app)


def configured(key: str, default: str | None = None) -> Callable[[], str]:
    """A limit read from the app configuration `key` at request time."""

    def value() -> str:
        return str(current_app.config.get(key) or default or DEFAULTS[key])

    return value


def token_key() -> str:
    """The limiter key of the presented token: a hash, so Redis never holds a usable token."""
    token = bearer_token() or ""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def address_key() -> str:
    """The limiter key of the client address."""
    return "address:" + (get_remote_address() or "unknown")


def per_address():
    """Decorator: every request from one address counts against INBOUND_RATE_LIMIT_PER_ADDRESS."""
    return limiter.shared_limit(configured(PER_ADDRESS), scope="address", key_func=address_key)


def auth_failures_per_address():
    """Decorator: refused tokens (401) from one address count against the failure limit."""
    return limiter.shared_limit(
        configured(AUTH_FAILURES_PER_ADDRESS),
        scope="auth-failures",
        key_func=address_key,
        deduct_when=lambda response: response.status_code == 401,
    )


def per_token(config_key: str, default: str, scope: str):
    """Decorator: requests presenting one token count against the limit `config_key`.

    Every endpoint decorated with the same `scope` shares one budget per token.
    """
    return limiter.shared_limit(
        configured(config_key, default),
        scope=scope,
        key_func=token_key,
        exempt_when=lambda: not bearer_token(),
    )
