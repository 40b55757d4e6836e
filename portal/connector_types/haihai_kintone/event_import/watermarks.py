"""Reading and advancing the 差分 watermarks of a connector's import streams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, select

from portal.models.common import utcnow
from portal.models.event_imports import EventWatermark


@dataclass(frozen=True)
class Watermark:
    """The newest event of a stream known to be in kintone, and the method that wrote it."""

    imported_until: dt.datetime
    method: str | None = None


def load_watermarks(session: Session, connector_id: str, role: str) -> dict[str, Watermark]:
    """Every stream's watermark of the connector's `role` import, by stream key."""
    rows = session.exec(
        select(EventWatermark).where(
            EventWatermark.connector_id == connector_id, EventWatermark.role == role
        )
    ).all()
    return {row.stream: Watermark(row.imported_until, row.method) for row in rows}


def advance_watermarks(
    session: Session,
    connector_id: str,
    role: str,
    updates: Mapping[str, dt.datetime],
    *,
    run_id: str | None = None,
    method: str | None = None,
) -> None:
    """Move each stream's watermark forward to its new time (never backwards); commits."""
    if not updates:
        return
    rows = {
        row.stream: row
        for row in session.exec(
            select(EventWatermark).where(
                EventWatermark.connector_id == connector_id, EventWatermark.role == role
            )
        ).all()
    }
    now = utcnow()
    for stream, moment in updates.items():
        row = rows.get(stream)
        if row is None:
            session.add(
                EventWatermark(
                    connector_id=connector_id,
                    role=role,
                    stream=stream,
                    imported_until=moment,
                    method=method,
                    run_id=run_id,
                    updated_at=now,
                )
            )
        elif moment > row.imported_until:
            row.imported_until = moment
            row.method = method
            row.run_id = run_id
            row.updated_at = now
            session.add(row)
    session.commit()
