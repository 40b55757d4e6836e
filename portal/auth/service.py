"""Account operations: create/reset/disable by operators, sign-in with throttling, password change."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import Session, func, select

from portal.auth import sessions, throttle
from portal.auth.passwords import (
    PasswordProblem,
    generate_password,
    hash_password,
    needs_rehash,
    validate_password,
    verify_password,
)
from portal.models.accounts import Account
from portal.models.common import utcnow
from portal.models.connectors import Connector

CONNECTOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the operator's job.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 254


class AccountError(Exception):
    """Base of the account errors; `str(error)` is a message for the operator or the user."""


class DuplicateAccountError(AccountError):
    """An account with this connector ID exists already."""


class UnknownAccountError(AccountError):
    """No account has this connector ID."""


class InvalidAccountDataError(AccountError):
    """A connector ID or mail address that cannot be used."""


class LoginError(Exception):
    """A sign-in that did not succeed."""


class InvalidCredentialsError(LoginError):
    """Unknown connector ID or wrong password (deliberately not told apart)."""


class AccountDisabledError(LoginError):
    """Correct password, but an operator disabled the account."""


class LoginLockedError(LoginError):
    """Too many failures: the connector ID (scope "id") or the address (scope "address") is locked."""

    def __init__(self, scope: str, until: dt.datetime) -> None:
        super().__init__(f"{scope} locked until {until.isoformat()}")
        self.scope = scope
        self.until = until


class PasswordRejectedError(Exception):
    """The new password breaks the policy; `problems` lists why."""

    def __init__(self, problems: list[PasswordProblem]) -> None:
        super().__init__(", ".join(p.value for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures lock a connector ID or a client address, and for how long."""

    per_id: throttle.ThrottleRule
    per_address: throttle.ThrottleRule

    @classmethod
    def from_config(cls, config: Mapping) -> LoginPolicy:
        """The policy from LOGIN_* settings (defaults: 5 per ID, 20 per address, 15 minutes)."""
        window = dt.timedelta(minutes=int(config.get("LOGIN_FAILURE_WINDOW_MINUTES", 15)))
        lock = dt.timedelta(minutes=int(config.get("LOGIN_LOCK_MINUTES", 15)))
        return cls(
            per_id=throttle.ThrottleRule(int(config.get("LOGIN_MAX_FAILURES", 5)), window, lock),
            per_address=throttle.ThrottleRule(
                int(config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)), window, lock
            ),
        )


# --- operator commands ---------------------------------------------------------------------


def find_account(session: Session, connector_id: str) -> Account | None:
    """The account with exactly this connector ID, or None."""
    return session.exec(select(Account).where(Account.connector_id == connector_id)).first()


def _require_account(session: Session, connector_id: str) -> Account:
    account = find_account(session, connector_id)
    if account is None:
        raise UnknownAccountError(f"no account with connector ID {connector_id!r}")
    return account


def create_account(session: Session, connector_id: str, email: str) -> tuple[Account, str]:
    """Create an account that must change its password; return it and its initial password."""
    connector_id = connector_id.strip()
    email = email.strip()
    if not CONNECTOR_ID_PATTERN.match(connector_id):
        raise InvalidAccountDataError(
            f"invalid connector ID {connector_id!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.match(email):
        raise InvalidAccountDataError(f"invalid mail address {email!r}")
    if find_account(session, connector_id) is not None:
        raise DuplicateAccountError(f"an account with connector ID {connector_id!r} exists already")
    password = _initial_password(connector_id)
    account = Account(
        connector_id=connector_id,
        email=email,
        password_hash=hash_password(password),
        must_change_password=True,
    )
    session.add(account)
    session.commit()
    return account, password


def reset_password(session: Session, connector_id: str) -> tuple[Account, str]:
    """Give the account a new initial password, end its sessions and lift its lock."""
    account = _require_account(session, connector_id)
    if not account.must_change_password:
        # Keep the customer's own last password so it cannot be chosen again right away.
        account.previous_password_hash = account.password_hash
    password = _initial_password(connector_id)
    account.password_hash = hash_password(password)
    account.must_change_password = True
    account.session_version += 1
    sessions.end_all(session, account.id)
    throttle.clear(session, throttle.id_key(connector_id))
    session.add(account)
    session.commit()
    return account, password


def set_disabled(session: Session, connector_id: str, disabled: bool) -> Account:
    """Disable (ending its sessions) or re-enable the account."""
    account = _require_account(session, connector_id)
    if disabled and not account.disabled:
        account.session_version += 1
        sessions.end_all(session, account.id)
    account.disabled = disabled
    session.add(account)
    session.commit()
    return account


@dataclass(frozen=True)
class AccountSummary:
    """One line of `flask accounts list`."""

    account: Account
    connectors: int
    locked_until: dt.datetime | None


def list_accounts(session: Session, now: dt.datetime | None = None) -> list[AccountSummary]:
    """Every account with its number of connectors and current sign-in lock, by connector ID."""
    now = now or utcnow()
    counts = dict(
        session.exec(
            select(Connector.account_id, func.count(Connector.id)).group_by(Connector.account_id)
        ).all()
    )
    accounts = session.exec(select(Account).order_by(Account.connector_id)).all()
    return [
        AccountSummary(
            account=a,
            connectors=counts.get(a.id, 0),
            locked_until=throttle.active_lock(session, throttle.id_key(a.connector_id), now),
        )
        for a in accounts
    ]


def _initial_password(connector_id: str) -> str:
    while True:
        password = generate_password()
        if not validate_password(password, connector_id):
            return password


# --- sign-in -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(generate_password())


def authenticate(
    session: Session,
    connector_id: str,
    password: str,
    client_address: str | None,
    policy: LoginPolicy,
    now: dt.datetime | None = None,
) -> Account:
    """The account signed in by these credentials; records the attempt and commits.

    Raises LoginLockedError, InvalidCredentialsError or AccountDisabledError.
    """
    now = now or utcnow()
    id_key = throttle.id_key(connector_id)
    address_key = throttle.address_key(client_address)
    # Both counters are charged before the (slow) password check, so concurrent attempts can
    # never get more checks than the limit allows.
    id_count, until = throttle.reserve_attempt(session, id_key, policy.per_id, now)
    if until is not None:
        raise LoginLockedError("id", until)
    address_count, until = throttle.reserve_attempt(session, address_key, policy.per_address, now)
    if until is not None:
        throttle.release_attempt(session, id_key)
        session.commit()
        raise LoginLockedError("address", until)

    account = find_account(session, connector_id.strip()) if connector_id.strip() else None
    # Unknown IDs cost one hash check too, so response time does not reveal which IDs exist.
    valid = verify_password(account.password_hash if account else _dummy_hash(), password)
    if account is None or not valid:
        id_lock = throttle.failure_locks(session, id_key, policy.per_id, id_count, now)
        address_lock = throttle.failure_locks(
            session, address_key, policy.per_address, address_count, now
        )
        throttle.prune(session, now, dt.timedelta(days=1))
        session.commit()
        if id_lock is not None:
            raise LoginLockedError("id", id_lock)
        if address_lock is not None:
            raise LoginLockedError("address", address_lock)
        raise InvalidCredentialsError("unknown connector ID or wrong password")
    # The right password was no failure: give both reserved attempts back.
    throttle.release_attempt(session, id_key)
    throttle.release_attempt(session, address_key)
    if account.disabled:
        session.commit()
        raise AccountDisabledError(f"account {account.connector_id!r} is disabled")

    throttle.clear(session, id_key)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = now
    session.add(account)
    session.commit()
    return account


def check_new_password(account: Account, new_password: str, confirmation: str) -> None:
    """Raise PasswordRejectedError unless `new_password` may replace the account's password."""
    problems = validate_password(
        new_password,
        account.connector_id,
        (account.password_hash, account.previous_password_hash),
    )
    if new_password != confirmation:
        problems.append(PasswordProblem.MISMATCH)
    if problems:
        raise PasswordRejectedError(problems)


def change_password(
    session: Session, account: Account, new_password: str, confirmation: str
) -> None:
    """Set a new password chosen by the customer; other sessions of the account end."""
    check_new_password(account, new_password, confirmation)
    if not account.must_change_password:
        account.previous_password_hash = account.password_hash
    account.password_hash = hash_password(new_password)
    account.must_change_password = False
    account.session_version += 1
    session.add(account)
    session.commit()
