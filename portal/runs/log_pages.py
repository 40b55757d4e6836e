"""The 連携ログ query: pages of an account's (or one connector's) runs, newest first.

Pages are found by key, not by OFFSET: the order is (created_at, id) descending, and a page
starts at a run id (`start`, inclusive) or ends just before one (`after`, the page above it).
Each query reads only the rows it shows (plus one, to know whether a next page exists) through
an index that serves both the filter and the order (ix_runs_account_log, ix_runs_connector_log).

The total is counted from the page's first row onwards, up to `count_limit` rows. Past that the
pager shows a lower bound (「1-5 of 1,000+」) instead of scanning the whole history; once the
remaining rows fit under the limit, the exact total shows again.

A page number without a key (a typed or old link) is resolved once with an index-only OFFSET
to its first row; past the end it falls back to the last page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import String, func, literal, select, tuple_
from sqlalchemy.orm import aliased, defer
from sqlmodel import Session, col

from portal.models import Connector, Run
from portal.models.common import UTCDateTime

DEFAULT_COUNT_LIMIT = 1000


@dataclass(frozen=True)
class LogRow:
    """One 連携ログ row: the run and the name of its connector."""

    run: Run
    connector_name: str


@dataclass(frozen=True)
class LogPage:
    """One page of the 連携ログ, newest first."""

    rows: list[LogRow]
    page: int
    per_page: int
    # Exact when `total_is_lower_bound` is False; otherwise at least this many runs exist.
    total: int
    total_is_lower_bound: bool
    has_next: bool
    # First run of the next page (its `start` key), when there is one.
    next_start: str | None = None

    @property
    def pages(self) -> int:
        """Number of pages (at least 1); a lower bound when the total is."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """1-based index of the first row shown (0 when empty)."""
        return 0 if not self.rows else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        """1-based index of the last row shown (0 when empty)."""
        return 0 if not self.rows else self.first + len(self.rows) - 1

    @property
    def has_prev(self) -> bool:
        """True when a previous page exists."""
        return self.page > 1

    @property
    def start(self) -> str | None:
        """Id of the first run shown (the key that re-reads this same page)."""
        return self.rows[0].run.id if self.rows else None

    @property
    def total_label(self) -> str:
        """The total as the pager shows it: 「171」, 「1,234」 or 「1,000+」."""
        return f"{self.total:,}+" if self.total_is_lower_bound else f"{self.total:,}"


@dataclass(frozen=True)
class _Scope:
    """Which runs the log shows: an account's, or one connector's of that account."""

    account_id: int
    connector_id: str | None

    def on(self, table) -> list:
        """Conditions on `table` (Run or an alias): the leading column of one log index only.

        For one connector this is the connector alone, not "account AND connector": PostgreSQL
        multiplies the two selectivities as if independent and picks a bitmap AND of both
        indexes plus a sort. Ownership is checked on the joined connector row instead.
        """
        if self.connector_id:
            return [table.connector_id == self.connector_id]
        return [table.account_id == self.account_id]

    @property
    def owner(self) -> list:
        """Condition on the joined connector: it belongs to the account."""
        return [Connector.account_id == self.account_id] if self.connector_id else []


def _key_of(run_id: str, scope: _Scope):
    """Row subquery: (created_at, id) of run `run_id` within scope (NULL when it is not)."""
    keyed = aliased(Run)
    return (
        select(keyed.created_at, keyed.id)
        .where(keyed.id == run_id, *scope.on(keyed))
        .scalar_subquery()
    )


def _key_value(key):
    if not isinstance(key, tuple):
        return key  # a row subquery from _key_of
    created_at, run_id = key
    # Typed like the columns, so SQLite compares the stored UTC text with the same format.
    return tuple_(literal(created_at, UTCDateTime()), literal(run_id, String()))


def _count_column(scope: _Scope, key, limit: int):
    """Scalar subquery: runs in scope from `key` downwards (all when None), at most `limit`."""
    counted = aliased(Run)
    inner = select(literal(1)).select_from(counted).where(*scope.on(counted))
    if key is not None:
        inner = inner.where(tuple_(counted.created_at, counted.id) <= _key_value(key))
    return select(func.count()).select_from(inner.limit(limit).subquery()).scalar_subquery()


def _fetch(session: Session, scope: _Scope, limit: int, key, count_limit: int, *, newer=False):
    """One statement: up to `limit` (run, connector name) from `key` down (or just above it,
    oldest first, with `newer`) and, on every row, the count from `key` (capped)."""
    run_key = tuple_(col(Run.created_at), col(Run.id))
    query = (
        select(Run, Connector.name, _count_column(scope, key, count_limit + 1))
        .options(defer(Run.params, raiseload=True))  # a list never reads a run's parameters
        .join(Connector, Connector.id == Run.connector_id)
        .where(*scope.on(Run), *scope.owner)
    )
    if newer:
        query = query.where(run_key > _key_value(key))
        query = query.order_by(col(Run.created_at).asc(), col(Run.id).asc())
    else:
        if key is not None:
            # A row-value comparison is one range of the (…, created_at, id) index.
            query = query.where(run_key <= _key_value(key))
        query = query.order_by(col(Run.created_at).desc(), col(Run.id).desc())
    return session.execute(query.limit(limit)).all()


def _page(rows, page: int, per_page: int, count_limit: int, *, next_start=None, extra=0):
    """A LogPage from fetched rows; `extra` runs lie between the rows and the counted key."""
    shown = [LogRow(run, name) for run, name, _count in rows[:per_page]]
    has_next = next_start is not None or len(rows) > per_page
    if next_start is None and len(rows) > per_page:
        next_start = rows[per_page][0].id
    before = (page - 1) * per_page
    if not has_next:
        return LogPage(shown, page, per_page, before + len(shown), False, False, None)
    remaining = rows[0][2] + extra
    total = before + min(remaining, count_limit)
    return LogPage(shown, page, per_page, total, remaining > count_limit, True, next_start)


def _key_at_offset(session: Session, scope: _Scope, offset: int) -> tuple | None:
    """The key of the run at 0-based position `offset`, newest first (index only)."""
    row = session.execute(
        select(Run.created_at, Run.id)
        .where(*scope.on(Run))
        .order_by(col(Run.created_at).desc(), col(Run.id).desc())
        .offset(offset)
        .limit(1)
    ).first()
    return tuple(row) if row else None


def _count_all(session: Session, scope: _Scope, limit: int) -> int:
    return session.execute(select(_count_column(scope, None, limit))).scalar_one()


def log_page(
    session: Session,
    account_id: int,
    page: int = 1,
    per_page: int = 5,
    connector_id: str | None = None,
    *,
    start: str | None = None,
    after: str | None = None,
    count_limit: int = DEFAULT_COUNT_LIMIT,
) -> LogPage:
    """Page `page` of the account's runs (optionally one connector's), newest first.

    `start` is the id of the page's first run (next page, refresh); `after` the id of the run
    just below the wanted page (previous page). Unknown keys fall back to the page number.
    """
    scope = _Scope(account_id, connector_id)
    page = max(1, page)
    top = None
    if after:
        above = _fetch(session, scope, per_page + 1, _key_of(after, scope), count_limit, newer=True)
        if len(above) > per_page:
            # The `after` run starts the next page; the count from it covers that and below.
            rows = list(reversed(above[:per_page]))
            return _page(
                rows, max(2, page), per_page, count_limit, next_start=after, extra=per_page
            )
        if above:
            top = 1  # fewer than a page above it: that is the top of the log
    if start and top is None:
        rows = _fetch(session, scope, per_page + 1, _key_of(start, scope), count_limit)
        if rows:  # an unknown or foreign key finds nothing, not even itself
            return _page(rows, page, per_page, count_limit)
    if page == 1 or top:
        return _page(
            _fetch(session, scope, per_page + 1, None, count_limit), 1, per_page, count_limit
        )
    key = _key_at_offset(session, scope, (page - 1) * per_page)
    if key is None:
        # Past the end: the last page. Counting is bounded by the offset just scanned.
        total = _count_all(session, scope, (page - 1) * per_page)
        page = max(1, math.ceil(total / per_page))
        key = _key_at_offset(session, scope, (page - 1) * per_page) if page > 1 else None
    return _page(
        _fetch(session, scope, per_page + 1, key, count_limit), page, per_page, count_limit
    )
