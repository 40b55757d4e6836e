"""Helpers for the test suites of every blueprint: ready-made accounts and signed-in clients."""

from __future__ import annotations

from functools import lru_cache

from flask import Flask
from flask.testing import FlaskClient

from portal.auth import sessions
from portal.auth.passwords import hash_password
from portal.auth.views import SESSION_TOKEN_KEY
from portal.db import session_scope
from portal.models.accounts import Account

DEFAULT_PASSWORD = "Portal#Test2024"


@lru_cache(maxsize=16)
def _hash(password: str) -> str:
    # argon2 is slow on purpose; tests reuse one hash per password.
    return hash_password(password)


def create_account(
    app: Flask,
    connector_id: str = "HC0001",
    password: str = DEFAULT_PASSWORD,
    *,
    email: str | None = None,
    must_change_password: bool = False,
    disabled: bool = False,
) -> Account:
    """Insert an account with a known password (ready to use unless told otherwise)."""
    with app.app_context(), session_scope() as session:
        account = Account(
            connector_id=connector_id,
            email=email or f"{connector_id.lower()}@example.com",
            password_hash=_hash(password),
            must_change_password=must_change_password,
            disabled=disabled,
        )
        session.add(account)
        session.flush()
        session.refresh(account)
        session.expunge(account)
    return account


def sign_in(client: FlaskClient, account: Account) -> None:
    """Make `client`'s session signed in as `account` without going through the login form."""
    with client.application.app_context(), session_scope() as db:
        token = sessions.start(db, account.id)
    with client.session_transaction() as session:
        session["_user_id"] = account.get_id()
        session["_fresh"] = True
        session[SESSION_TOKEN_KEY] = token


def login(client: FlaskClient, connector_id: str, password: str = DEFAULT_PASSWORD, **kwargs):
    """POST the login form with `client`; returns the response (redirects not followed)."""
    data = {"connector_id": connector_id, "password": password}
    return client.post("/login", data=data, **kwargs)
