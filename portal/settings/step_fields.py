"""What the Steps of the 連携設定 page share: secret and required text fields, the drift
reasons of 付録6.1 and the values of a sync area (built-in Steps and process Steps alike)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from werkzeug.datastructures import MultiDict

from portal.crypto import SECRET_PLACEHOLDER, is_placeholder, mask
from portal.settings import messages as msg
from portal.settings.sections import DriftEntry
from portal.syncs.kintone_schema import ChangeKind, FieldChange

RowT = TypeVar("RowT")

NAME_MAX = 100
TEXT_MAX = 255
TIMINGS = ("off", "manual", "schedule")


def checked(form: MultiDict, name: str) -> bool:
    """Whether checkbox `name` was posted ticked."""
    return (form.get(name) or "").strip().lower() in {"1", "on", "true", "yes"}


def posted_secret(
    form: MultiDict,
    name: str,
    stored: str | None,
    errors: dict[str, str],
    pattern: re.Pattern,
    format_message: str,
) -> str | None:
    """A secret field: the placeholder keeps `stored`; empty is an error; else the new value."""
    value = (form.get(name) or "").strip()
    if is_placeholder(value) and stored:
        return stored
    if not value or is_placeholder(value):
        errors[name] = msg.REQUIRED
        return None
    if not pattern.match(value):
        errors[name] = format_message
        return None
    return value


def shown_secret(stored: str | None) -> str:
    """What a re-rendered secret field shows: the placeholder at most, never a token (neither
    the stored one nor one just typed; the browser keeps what was typed, see portal.js)."""
    return mask(stored)


def required_text(form: MultiDict, name: str, errors: dict[str, str], limit: int) -> str:
    """A required text field of at most `limit` characters (errors go to `errors`)."""
    value = (form.get(name) or "").strip()
    if not value:
        errors[name] = msg.REQUIRED
    elif len(value) > limit:
        errors[name] = msg.NAME_TOO_LONG if limit == NAME_MAX else msg.TEXT_TOO_LONG
    return value


def drift_reason(change: FieldChange) -> str:
    """The エラー内容 of 付録6.1 for a change that removes settings."""
    if change.kind is ChangeKind.REMOVED:
        return msg.KINTONE_FIELD_DELETED
    return msg.KINTONE_FIELD_CHANGED


def breaking_changes(changes: list[FieldChange]) -> dict[str, FieldChange]:
    """The first error-level change of each field code (warnings and additions left out)."""
    found: dict[str, FieldChange] = {}
    for change in changes:
        if change.is_error and change.code not in found:
            found[change.code] = change
    return found


def split_broken_rows(
    rows: Iterable[RowT], changes: list[FieldChange], group: str
) -> tuple[list[RowT], list[DriftEntry]]:
    """Mapping rows (kintone_code, haihai_item) a kintone re-sync leaves → (kept, drift entries
    naming each removed row with its エラー内容, 付録6.1)."""
    breaking = breaking_changes(changes)
    kept: list[RowT] = []
    entries: list[DriftEntry] = []
    for row in rows:
        change = breaking.get(row.kintone_code)
        if change is None:
            kept.append(row)
            continue
        entries.append(
            DriftEntry(
                group,
                (msg.HEADER_KINTONE_FIELD, msg.HEADER_HAIHAI_ITEM, msg.HEADER_ERROR),
                (change.old_label or change.code, row.haihai_item, drift_reason(change)),
            )
        )
    return kept, entries


def sync_view(synced_at: dt.datetime | None, report: dict | None) -> dict[str, Any]:
    """Template values of a sync area: last time, warnings, removals of the last re-sync."""
    report = report or {}
    return {
        "placeholder": SECRET_PLACEHOLDER,
        "synced_at": synced_at,
        "warnings": list(report.get("warnings", [])),
        "entries": [DriftEntry.from_json(e) for e in report.get("entries", [])],
        "permission_error": report.get("permission_error"),
    }
