"""Server-side sign-in sessions: a random token in the signed cookie, its hash in the database.

The cookie alone never proves a sign-in: the row must exist, so deleting it (logout, password
change, account disabled) ends the session even for a copy of the cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from portal.models.accounts import LoginSession
from portal.models.common import utcnow

# Writing last_seen_at on every request would make every page view a database write; the idle
# clock only needs to be accurate to well under a minute.
TOUCH_INTERVAL = dt.timedelta(seconds=15)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session may stay unused, and how long it may last at all."""

    idle: dt.timedelta
    lifetime: dt.timedelta

    @classmethod
    def from_config(cls, config) -> SessionLimits:
        """IDLE_TIMEOUT_MINUTES (30) and SESSION_MAX_HOURS (12) of the app configuration."""
        return cls(
            idle=dt.timedelta(minutes=int(config.get("IDLE_TIMEOUT_MINUTES", 30))),
            lifetime=dt.timedelta(hours=float(config.get("SESSION_MAX_HOURS", 12))),
        )


def token_hash(token: str) -> str:
    """The stored form of a session token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, account_id: int, now: dt.datetime | None = None) -> str:
    """Create a session row for the account and return the token for the cookie (commits)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=token_hash(token), account_id=account_id, created_at=now, last_seen_at=now
        )
    )
    session.commit()
    return token


def find(session: Session, token: object) -> LoginSession | None:
    """The live row of `token`, or None for a missing, malformed or ended token."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    return session.get(LoginSession, token_hash(token))


def is_expired(row: LoginSession, limits: SessionLimits, now: dt.datetime) -> bool:
    """True when the session sat unused longer than allowed or outlived its lifetime."""
    return now - row.last_seen_at > limits.idle or now - row.created_at > limits.lifetime


def touch(session: Session, row: LoginSession, now: dt.datetime | None = None) -> None:
    """Restart the idle clock of `row` (written at most every TOUCH_INTERVAL; commits)."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_INTERVAL:
        return
    row.last_seen_at = now
    session.add(row)
    session.commit()


def end(session: Session, token: object) -> None:
    """Delete the session of `token` if it exists (commits)."""
    if isinstance(token, str) and token:
        session.exec(delete(LoginSession).where(col(LoginSession.token_hash) == token_hash(token)))
        session.commit()


def end_all(session: Session, account_id: int) -> None:
    """End every session of the account (the caller commits)."""
    session.exec(delete(LoginSession).where(col(LoginSession.account_id) == account_id))


def prune(session: Session, limits: SessionLimits, now: dt.datetime | None = None) -> int:
    """Delete sessions that can no longer be used; return how many (the caller commits)."""
    now = now or utcnow()
    stale = delete(LoginSession).where(
        (col(LoginSession.last_seen_at) < now - limits.idle)
        | (col(LoginSession.created_at) < now - limits.lifetime)
    )
    return session.exec(stale).rowcount or 0


def count(session: Session, account_id: int) -> int:
    """How many live session rows the account has (for tests and operators)."""
    return len(
        session.exec(select(LoginSession).where(LoginSession.account_id == account_id)).all()
    )
