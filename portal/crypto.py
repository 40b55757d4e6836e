"""Secrets at rest: an encrypted column type (Fernet/MultiFernet) and masking helpers."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text, TypeDecorator, column, inspect, select, table
from sqlalchemy.exc import OperationalError, ProgrammingError

# What forms show instead of a stored secret; posting it back keeps the stored value.
SECRET_PLACEHOLDER = "••••••••"

# (table, column) pairs holding ciphertext, registered by EncryptedText columns' users.
ENCRYPTED_COLUMNS: set[tuple[str, str]] = set()


class SecretKeyError(RuntimeError):
    """The configured key cannot decrypt stored secrets; the portal refuses to start."""


def register_encrypted_column(table_name: str, column_name: str) -> None:
    """Declare that `table_name.column_name` stores EncryptedText (checked at start, rotated)."""
    ENCRYPTED_COLUMNS.add((table_name, column_name))


def read_keys(app: Flask) -> list[bytes]:
    """The configured Fernet keys (the first encrypts), creating the key file on first use."""
    inline = app.config.get("PORTAL_SECRET_KEY")
    if inline:
        return [k.strip().encode() for k in inline.split(",") if k.strip()]
    path = Path(app.config["PORTAL_SECRET_KEY_FILE"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode() + "\n")
        os.chmod(path, 0o600)
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]


def build_fernet(keys: list[bytes]) -> MultiFernet:
    """A MultiFernet that encrypts with the first key and decrypts with any of them."""
    if not keys:
        raise SecretKeyError(
            "no secret key configured (PORTAL_SECRET_KEY or PORTAL_SECRET_KEY_FILE)"
        )
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as error:
        raise SecretKeyError(f"invalid secret key: {error}") from error


def fernet() -> MultiFernet:
    """The current app's MultiFernet."""
    return current_app.extensions["fernet"]


def encrypt(value: str) -> str:
    """Ciphertext of `value` under the primary key."""
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Plain text of `token`; raises SecretKeyError when no configured key opens it."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretKeyError("stored secret cannot be decrypted with the configured key") from error


class EncryptedText(TypeDecorator):
    """A text column encrypted with the app's key; Python sees plain text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def mask(value: str | None) -> str:
    """What a form shows for a stored secret: the placeholder, or empty when none is stored."""
    return SECRET_PLACEHOLDER if value else ""


def is_placeholder(value: str | None) -> bool:
    """True when a posted secret is the placeholder (keep the stored value)."""
    return (value or "").strip() == SECRET_PLACEHOLDER


def _stored_ciphertexts(app: Flask):
    engine = app.extensions["db_engine"]
    existing = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for table_name, column_name in sorted(ENCRYPTED_COLUMNS):
            if table_name not in existing:
                continue
            col = column(column_name)
            query = select(col).select_from(table(table_name)).where(col.is_not(None))
            for (value,) in connection.execute(query):
                yield table_name, column_name, value


def verify_stored_secrets(app: Flask) -> None:
    """Raise SecretKeyError if any stored secret cannot be decrypted with the configured keys."""
    multi = app.extensions["fernet"]
    try:
        for table_name, column_name, value in _stored_ciphertexts(app):
            try:
                multi.decrypt(value.encode())
            except InvalidToken as error:
                raise SecretKeyError(
                    f"the secret key cannot decrypt {table_name}.{column_name}; "
                    "start with the key the data was written with"
                ) from error
    except (OperationalError, ProgrammingError):
        return  # tables not migrated yet: nothing stored to check


def init_app(app: Flask) -> None:
    """Load the keys and refuse to start when they cannot open what is stored."""
    # The encrypted columns are registered by portal.models, which create_app imports first.
    app.extensions["fernet"] = build_fernet(read_keys(app))
    try:
        verify_stored_secrets(app)
    except SecretKeyError:
        # The app will not exist, so nobody else would close the engine's pooled connection.
        app.extensions["db_engine"].dispose()
        raise
