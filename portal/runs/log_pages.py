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

from sqlalchemy import ColumnElement, String, false, func, literal, select, tuple_
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


def _scope(session: Session, account_id: int, connector_id: str | None):
    """The WHERE conditions of the log: one index's leading column, nothing else."""
    if not connector_id:
        return [col(Run.account_id) == account_id]
    owner = session.execute(
        select(Connector.account_id).where(col(Connector.id) == connector_id)
    ).scalar_one_or_none()
    if owner != account_id:
        return [false()]  # another account's connector: an empty log, never its runs
    # The connector alone, not "account AND connector": PostgreSQL would multiply the two
    # selectivities as if independent and pick a bitmap AND over both indexes plus a sort.
    return [col(Run.connector_id) == connector_id]


def _key_of(session: Session, run_id: str | None, scope) -> tuple | None:
    """(created_at, id) of run `run_id` if it is in `scope`, else None."""
    if not run_id:
        return None
    return session.execute(
        select(Run.created_at, Run.id).where(col(Run.id) == run_id, *scope)
    ).first()


def _run_key():
    return tuple_(col(Run.created_at), col(Run.id))


def _key_value(key: tuple):
    created_at, run_id = key
    # Typed like the columns, so SQLite compares the stored UTC text with the same format.
    return tuple_(literal(created_at, UTCDateTime()), literal(run_id, String()))


def _older_or_equal(key: tuple) -> ColumnElement[bool]:
    # A row-value comparison is one range of the (…, created_at, id) index on both databases.
    return _run_key() <= _key_value(key)


def _newer(key: tuple) -> ColumnElement[bool]:
    return _run_key() > _key_value(key)


def _rows(session: Session, scope, limit: int, *, newer_than: tuple | None = None, start=None):
    """Up to `limit` (run, connector name) from `start` downwards, or just above `newer_than`."""
    query = select(Run, Connector.name).join(Connector, Connector.id == Run.connector_id)
    query = query.where(*scope)
    if newer_than is not None:
        query = query.where(_newer(newer_than)).order_by(
            col(Run.created_at).asc(), col(Run.id).asc()
        )
    else:
        if start is not None:
            query = query.where(_older_or_equal(start))
        query = query.order_by(col(Run.created_at).desc(), col(Run.id).desc())
    rows = session.execute(query.limit(limit)).all()
    return [LogRow(run, name) for run, name in rows]


def _count_from(session: Session, scope, start: tuple | None, limit: int) -> int:
    """Runs in scope from `start` downwards (all when None), counting no further than `limit`."""
    inner = select(literal(1)).select_from(Run).where(*scope)
    if start is not None:
        inner = inner.where(_older_or_equal(start))
    return session.execute(select(func.count()).select_from(inner.limit(limit).subquery())).one()[0]


def _key_at_offset(session: Session, scope, offset: int) -> tuple | None:
    """The key of the run at 0-based position `offset`, newest first (index only)."""
    return session.execute(
        select(Run.created_at, Run.id)
        .where(*scope)
        .order_by(col(Run.created_at).desc(), col(Run.id).desc())
        .offset(offset)
        .limit(1)
    ).first()


def _page_from(
    session: Session, scope, page: int, per_page: int, start: tuple | None, count_limit: int
) -> LogPage:
    fetched = _rows(session, scope, per_page + 1, start=start)
    rows, has_next = fetched[:per_page], len(fetched) > per_page
    before = (page - 1) * per_page
    if not has_next:
        total, lower_bound = before + len(rows), False
    else:
        remaining = _count_from(session, scope, start, count_limit + 1)
        lower_bound = remaining > count_limit
        total = before + min(remaining, count_limit)
    next_start = fetched[per_page].run.id if has_next else None
    return LogPage(rows, page, per_page, total, lower_bound, has_next, next_start)


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
    scope = _scope(session, account_id, connector_id)
    page = max(1, page)
    if after:
        key = _key_of(session, after, scope)
        if key is not None:
            above = _rows(session, scope, per_page + 1, newer_than=key)
            if len(above) <= per_page:
                # Fewer than a page above it: that is the top of the log.
                return _page_from(session, scope, 1, per_page, None, count_limit)
            first = above[per_page - 1].run
            return _page_from(
                session, scope, max(2, page), per_page, (first.created_at, first.id), count_limit
            )
    if start:
        key = _key_of(session, start, scope)
        if key is not None:
            return _page_from(session, scope, page, per_page, tuple(key), count_limit)
    if page == 1:
        return _page_from(session, scope, 1, per_page, None, count_limit)
    key = _key_at_offset(session, scope, (page - 1) * per_page)
    if key is None:
        # Past the end: the last page. Counting is bounded by the offset just scanned.
        total = _count_from(session, scope, None, (page - 1) * per_page)
        page = max(1, math.ceil(total / per_page))
        if page == 1:
            return _page_from(session, scope, 1, per_page, None, count_limit)
        key = _key_at_offset(session, scope, (page - 1) * per_page)
    return _page_from(session, scope, page, per_page, tuple(key), count_limit)
