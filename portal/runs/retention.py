"""Run retention: runs (and every row that refers to them) older than the kept age are purged.

The purge works in small batches, each its own short transaction, and pauses between batches,
so web requests and workers writing runs at the same time wait at most one batch, never the
whole purge (SQLite locks the whole file per write transaction; PostgreSQL locks only the
deleted rows, but a long transaction would still hold back vacuum).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from portal.models import Run
from portal.models.runs import UNFINISHED

DEFAULT_RETENTION_DAYS = 400
DEFAULT_BATCH_SIZE = 200
DEFAULT_PAUSE_SECONDS = 0.05


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """Runs created before this moment are no longer kept."""
    return now - dt.timedelta(days=days)


def oldest_kept_run(session: Session, account_id: int) -> dt.datetime | None:
    """When the account's oldest kept run was created, or None without runs (one index read)."""
    return session.exec(
        select(Run.created_at)
        .where(col(Run.account_id) == account_id)
        .order_by(col(Run.created_at).asc(), col(Run.id).asc())
        .limit(1)
    ).first()


def _dependent_columns() -> list[tuple[Table, object]]:
    """(table, column) of every foreign key that points at runs.id, from the models."""
    runs_id = Run.__table__.c.id
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for foreign_key in table.foreign_keys:
            if foreign_key.column is runs_id:
                found.append((table, foreign_key.parent))
    return found


@dataclass(frozen=True)
class PurgeResult:
    """What one purge removed."""

    deleted: int
    batches: int
    cutoff: dt.datetime
    seconds: float
    # Longest single batch transaction: how long a concurrent writer could have waited.
    longest_batch_seconds: float


def purge_expired_runs(
    engine: Engine,
    cutoff: dt.datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pause_seconds: float = DEFAULT_PAUSE_SECONDS,
    max_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PurgeResult:
    """Delete finished runs created before `cutoff`, and rows referring to them, in batches.

    Each batch (at most `batch_size` runs, oldest first) is one transaction; `pause_seconds`
    between batches leaves room for other writers. Unfinished runs are never deleted. With
    `max_seconds` the purge stops after the batch that crosses it (the next purge goes on).
    """
    dependents = _dependent_columns()
    started = time.monotonic()
    deleted = batches = 0
    longest = 0.0
    while True:
        batch_started = time.monotonic()
        with Session(engine) as session, session.begin():
            ids = session.exec(
                select(Run.id)
                .where(col(Run.created_at) < cutoff, col(Run.status).not_in(UNFINISHED))
                .order_by(col(Run.created_at).asc())
                .limit(batch_size)
            ).all()
            if not ids:
                break
            for table, column in dependents:
                session.execute(delete(table).where(column.in_(ids)))
            session.execute(delete(Run).where(col(Run.id).in_(ids)))
        longest = max(longest, time.monotonic() - batch_started)
        deleted += len(ids)
        batches += 1
        if len(ids) < batch_size:
            break
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            break
        sleep(pause_seconds)
    return PurgeResult(deleted, batches, cutoff, round(time.monotonic() - started, 3), longest)
