"""Portal accounts (one per 配配メールコネクタ ID) and the shared login-failure counters."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from portal.models.common import UTCDateTime, utcnow


class Account(UserMixin, SQLModel, table=True):
    """A customer account signing in with its connector ID and password."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    connector_id: str = Field(index=True, unique=True, max_length=64)
    email: str = Field(max_length=254)
    password_hash: str = Field(max_length=255)
    # The last password the customer chose (kept across an operator reset), never reusable.
    previous_password_hash: str | None = Field(default=None, max_length=255)
    must_change_password: bool = Field(default=True)
    disabled: bool = Field(default=False)
    timezone: str = Field(default="Asia/Tokyo", max_length=64)
    # Changes whenever the password changes, so existing sessions of the old password end.
    session_version: int = Field(default=1)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    def get_id(self) -> str:
        """Session identity: account id plus session version (a password change logs others out)."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        """Flask-Login's view: a disabled account is not active and cannot hold a session."""
        return not self.disabled


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key, shared by every web process through the database.

    Keys are ``id:<connector id as typed>`` (also for IDs that do not exist, so a lock says
    nothing about which IDs are real) and ``addr:<client address>``.
    """

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=128)
    failures: int = Field(default=0)
    window_started_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class LoginSession(SQLModel, table=True):
    """One signed-in browser: the cookie holds a random token, this row the token's SHA-256.

    Deleting the row ends the session wherever its cookie is, so a copied cookie stops working
    at logout; the idle clock and the absolute lifetime are measured here, not in the cookie.
    """

    __tablename__ = "login_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_seen_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
