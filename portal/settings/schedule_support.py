"""The settings page's link to the run machinery: schedule fields, storage and the §4.2 check.

Sections call these functions instead of importing the runs package themselves, so the page
depends on one small surface: parse/render values of the schedule editor macro, the stored
ScheduleSpec of a process, replace_schedules, and the save-time overlap check (付録6.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session
from werkzeug.datastructures import MultiDict

from portal.syncs.config import ScheduleSpec


@dataclass(frozen=True)
class ScheduleCheck:
    """Outcome of the save-time check: errors refuse the save, confirmations ask first."""

    errors: list[str] = field(default_factory=list)
    confirmations: list[str] = field(default_factory=list)


def parse_schedule(form: MultiDict, prefix: str) -> tuple[ScheduleSpec | None, dict[str, str]]:
    """The ScheduleSpec posted by the schedule editor named `prefix` → (spec, field errors)."""
    from portal.runs import schedule_form

    return schedule_form.parse_schedule(form, prefix)


def posted_schedule(form: MultiDict, prefix: str) -> dict[str, Any]:
    """The schedule editor's values as posted (to re-render a refused form)."""
    from portal.runs import schedule_form

    return schedule_form.posted_values(form, prefix)


def stored_schedule(session: Session, connector_id: str, process_key: str) -> dict[str, Any]:
    """The schedule editor's values for the stored schedule of `process_key`."""
    from portal.runs import schedule_form

    return schedule_form.spec_values(stored_spec(session, connector_id, process_key))


def stored_spec(session: Session, connector_id: str, process_key: str) -> ScheduleSpec | None:
    """The enabled schedule of `process_key` for the connector (None when not scheduled)."""
    from portal.runs.service import schedules_of

    return schedules_of(session, connector_id).get(process_key)


def replace(session: Session, connector_id: str, specs: Mapping[str, ScheduleSpec | None]) -> None:
    """Make `specs` the connector's complete set of schedules (flushed, not committed)."""
    from portal.runs.service import replace_schedules

    replace_schedules(session, connector_id, specs)


def check_schedules(specs: Mapping[str, ScheduleSpec | None]) -> ScheduleCheck:
    """The 付録6.3 check over every schedule the page is about to save."""
    from portal.runs import schedule_form

    result = schedule_form.check_overlaps(specs)
    return ScheduleCheck(list(result.errors), list(result.confirmations))
