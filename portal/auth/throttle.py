"""Login-failure counters kept in the database, so every web process sees the same numbers.

An attempt is counted *before* its password is checked (`reserve_attempt`, one atomic UPDATE):
with 40 requests arriving at once, only the first `max_failures` reach the password check and
the rest are refused as locked, however many web processes and threads serve them. A correct
password clears the counter; a wrong one locks the key when its count reached the limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from portal.models.accounts import LoginThrottle
from portal.models.common import UTCDateTime

_table = LoginThrottle.__table__
KEY_MAX_LENGTH = 128


@dataclass(frozen=True)
class ThrottleRule:
    """`max_failures` failures within `window` lock the key for `lock`."""

    max_failures: int
    window: dt.timedelta
    lock: dt.timedelta


def id_key(connector_id: str) -> str:
    """The counter key of a typed connector ID (existing or not)."""
    return ("id:" + connector_id.strip())[:KEY_MAX_LENGTH]


def address_key(address: str | None) -> str:
    """The counter key of a client address."""
    return ("addr:" + (address or "unknown"))[:KEY_MAX_LENGTH]


def active_lock(session: Session, key: str, now: dt.datetime) -> dt.datetime | None:
    """The end of `key`'s lock when it is locked at `now`, else None."""
    until = session.execute(select(_table.c.locked_until).where(_table.c.key == key)).scalar()
    return until if until is not None and until > now else None


def _ensure_row(session: Session, key: str, now: dt.datetime) -> None:
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(
        insert(_table)
        .values(key=key, failures=0, window_started_at=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )


def reserve_attempt(
    session: Session, key: str, rule: ThrottleRule, now: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """Count one attempt of `key` before its password is checked (commits at once).

    Returns (count, None) when the password may be checked — count is this attempt's number in
    the window — or (0, lock end) when the key is locked; an attempt beyond the limit locks the
    key itself, so concurrent attempts past the limit are refused without a check.
    """
    _ensure_row(session, key, now)
    now_value = literal(now, UTCDateTime())
    expired = _table.c.window_started_at < now - rule.window
    # One UPDATE evaluated under the row lock: concurrent attempts get distinct counts.
    count = session.execute(
        update(_table)
        .where(
            _table.c.key == key,
            or_(_table.c.locked_until.is_(None), _table.c.locked_until <= now_value),
        )
        .values(
            failures=case((expired, 1), else_=_table.c.failures + 1),
            window_started_at=case((expired, now_value), else_=_table.c.window_started_at),
        )
        .returning(_table.c.failures)
    ).scalar()
    if count is None:
        session.commit()
        return 0, active_lock(session, key, now)
    if count > rule.max_failures:
        until = now + rule.lock
        session.execute(
            update(_table)
            .where(_table.c.key == key)
            .values(failures=0, window_started_at=now, locked_until=until)
        )
        session.commit()
        return 0, until
    session.commit()
    return count, None


def release_attempt(session: Session, key: str) -> None:
    """Give back an attempt reserved but never checked (another key refused it)."""
    session.execute(
        update(_table)
        .where(_table.c.key == key, _table.c.failures > 0)
        .values(failures=_table.c.failures - 1)
    )


def failure_locks(
    session: Session, key: str, rule: ThrottleRule, count: int, now: dt.datetime
) -> dt.datetime | None:
    """After attempt number `count` of `key` failed: lock the key if it used the last check."""
    if count < rule.max_failures:
        return None
    until = now + rule.lock
    # The count starts afresh once the lock is set: after it ends there are new attempts.
    session.execute(
        update(_table)
        .where(_table.c.key == key)
        .values(failures=0, window_started_at=now, locked_until=until)
    )
    return until


def record_failure(
    session: Session, key: str, rule: ThrottleRule, now: dt.datetime
) -> dt.datetime | None:
    """Count one failure of `key`; return the lock end when this failure locks it (or it is)."""
    count, locked = reserve_attempt(session, key, rule, now)
    if locked is not None:
        return locked
    return failure_locks(session, key, rule, count, now)


def clear(session: Session, key: str) -> None:
    """Forget the failures and any lock of `key` (after a success or an operator reset)."""
    session.execute(delete(_table).where(_table.c.key == key))


def prune(session: Session, now: dt.datetime, older_than: dt.timedelta) -> None:
    """Drop counters idle for longer than `older_than` whose lock (if any) has ended."""
    session.execute(
        delete(_table).where(
            _table.c.window_started_at < now - older_than,
            or_(_table.c.locked_until.is_(None), _table.c.locked_until < now),
        )
    )
