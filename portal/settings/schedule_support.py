"""The settings page's link to the run machinery: the schedule editor, storage, the §4.2 check.

Sections call these functions instead of reaching into the runs package themselves, so the page
depends on one small surface: parsing and re-rendering the schedule editor
(portal.runs.schedule_form), the stored ScheduleSpec of a process, replace_schedules, and the
save-time overlap check of 付録6.3.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session
from werkzeug.datastructures import MultiDict

from portal.runs import schedule_form
from portal.runs.schedule_form import EditorValues, ScheduleCheck, ScheduleFormError
from portal.syncs.config import ScheduleSpec

__all__ = [
    "EditorValues",
    "ScheduleCheck",
    "check_schedules",
    "conflict_errors",
    "editor_fields",
    "parse_timing",
    "posted_editor",
    "replace",
    "stored_editor",
    "stored_spec",
]


def parse_timing(
    form: MultiDict, prefix: str, variant: str = "standard"
) -> tuple[str | None, ScheduleSpec | None, dict[str, str]]:
    """(連携タイミング, spec, field errors) posted by the schedule editor named `prefix`."""
    try:
        timing, spec = schedule_form.parse_schedule_form(form, prefix, variant)
    except ScheduleFormError as invalid:
        posted = form.get(schedule_form.field_name(prefix, "timing"))
        return (posted if posted in schedule_form.TIMING_LABELS else None), None, invalid.errors
    return timing, spec, {}


def posted_editor(form: MultiDict, prefix: str, variant: str = "standard") -> EditorValues:
    """The editor's values as posted (to re-render a refused form unchanged)."""
    return schedule_form.editor_values_from_form(form, prefix, variant)


def stored_editor(
    session: Session, connector_id: str, process_key: str, timing: str, variant: str = "standard"
) -> EditorValues:
    """The editor's values for the stored timing and schedule of `process_key`."""
    spec = stored_spec(session, connector_id, process_key) if timing == "schedule" else None
    return schedule_form.editor_values(timing, spec, variant)


def editor_fields(
    session: Session,
    connector_id: str,
    prefix: str,
    process_key: str,
    timing: str,
    variant: str = "standard",
) -> list[tuple[str, str]]:
    """The editor's posted fields for the stored timing and schedule (Section.form_fields)."""
    values = stored_editor(session, connector_id, process_key, timing, variant)
    return schedule_form.editor_form_fields(prefix, values, variant)


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
    return schedule_form.check_schedules_for_save(specs)


def conflict_errors(check: ScheduleCheck, prefixes: Mapping[str, str]) -> dict[str, str]:
    """The check's errors as errors of the schedule editors they concern (`<prefix>-schedule`),
    `prefixes` naming the editor of each process key."""
    return {
        f"{prefixes.get(key, key)}-schedule": " ".join(messages)
        for key, messages in check.errors_by_process.items()
    }
