"""The settings page's timeline: the next firings of every schedule of a connector, merged."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from portal.connector_types.registry import process_name
from portal.connectors.access import get_own_connector_or_404
from portal.db import get_session
from portal.models.common import utcnow
from portal.runs.schedule_math import describe_spec, next_occurrences_timeline
from portal.runs.service import schedules_of
from portal.web.templating import account_timezone

bp = Blueprint("schedule_timeline", __name__)

# How many upcoming firings the timeline lists.
TIMELINE_LENGTH = 12


@bp.get("/connectors/<connector_id>/schedule-timeline")
@login_required
def partial(connector_id: str):
    """The timeline partial of one connector's stored (saved) schedules."""
    connector = get_own_connector_or_404(connector_id)
    specs = schedules_of(get_session(), connector.id)
    timezone = account_timezone()
    entries = next_occurrences_timeline(specs, timezone, utcnow(), TIMELINE_LENGTH)
    schedules = sorted(
        ((process_name(key), describe_spec(spec)) for key, spec in specs.items()),
        key=lambda pair: pair[0],
    )
    return render_template(
        "runs/_schedule_timeline.html",
        connector=connector,
        entries=entries,
        schedules=schedules,
        timezone=timezone,
    )
