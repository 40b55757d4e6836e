"""The synced snapshots of Step2 and Step3 as plain data (configuration export and import).

What 「配配メール設定の同期」 and 「kintone項目の同期」 fetched is stored state, not form input: an
export carries it as data and an import stores it back before the form is validated against it
(the page checks mappings, targets and conditions against these snapshots). The shape is checked
so that a hand-edited file cannot store something the page and the runs cannot read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from portal.models.settings import ConnectorSettings

MSG_NOT_MAPPING = "キーと値の組（マッピング）で指定してください。"
MSG_NOT_LIST = "リストで指定してください。"
MSG_NOT_TEXT = "文字列で指定してください。"
MSG_DATETIME = (
    "日時はタイムゾーン付きのISO 8601形式（例: 2024-06-01T09:00:00+00:00）で指定してください。"
)
MSG_ENTRY_ID = "各要素に id が必要です。"
MSG_FIELD_TYPE = "各フィールドに type（kintoneのフィールドの種類）が必要です。"
MSG_SOURCE = "subdomain と app_id を文字列で指定してください。"
MSG_ITEM_LABEL = "各項目に label が必要です。"

HAIHAI_LISTS = ("items", "groups", "step_plans", "forms")


def _time_text(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any, path: str, errors: dict[str, str]) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors[path] = MSG_DATETIME
        return None
    return parsed.astimezone(dt.UTC)


def _report(value: Any, path: str, errors: dict[str, str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors[path] = MSG_NOT_MAPPING
        return None
    return dict(value)


# --- 配配メール (Step2) -----------------------------------------------------------------------


def haihai_state(settings: ConnectorSettings) -> dict[str, Any] | None:
    """The stored 配配メール snapshot, its time and its sync report (None before any sync)."""
    if settings.haihai_snapshot is None:
        return None
    return {
        "synced_at": _time_text(settings.haihai_synced_at),
        "snapshot": settings.haihai_snapshot,
        "report": settings.haihai_sync_report,
    }


def _check_haihai_snapshot(snapshot: Any, errors: dict[str, str]) -> None:
    if not isinstance(snapshot, Mapping):
        errors["snapshot"] = MSG_NOT_MAPPING
        return
    if not isinstance(snapshot.get("source"), str):
        errors["snapshot.source"] = MSG_NOT_TEXT
    for key in HAIHAI_LISTS:
        entries = snapshot.get(key, [])
        if not isinstance(entries, list):
            errors[f"snapshot.{key}"] = MSG_NOT_LIST
        elif not all(isinstance(e, Mapping) and e.get("id") not in (None, "") for e in entries):
            errors[f"snapshot.{key}"] = MSG_ENTRY_ID
        elif key == "items" and not all(isinstance(e.get("label"), str) for e in entries):
            errors[f"snapshot.{key}"] = MSG_ITEM_LABEL


def restore_haihai_state(settings: ConnectorSettings, data: Mapping[str, Any]) -> dict[str, str]:
    """Store `data` (as haihai_state returned it) on `settings` → {sub-path: message}."""
    errors: dict[str, str] = {}
    snapshot = data.get("snapshot")
    _check_haihai_snapshot(snapshot, errors)
    synced_at = _parse_time(data.get("synced_at"), "synced_at", errors)
    report = _report(data.get("report"), "report", errors)
    if errors:
        return errors
    settings.haihai_snapshot = dict(snapshot)  # type: ignore[arg-type]
    settings.haihai_synced_at = synced_at
    settings.haihai_sync_report = report
    return {}


# --- kintone (Step3) -------------------------------------------------------------------------


def kintone_state(settings: ConnectorSettings) -> dict[str, Any] | None:
    """The stored kintone fields, app name, time and sync report (None before any sync)."""
    if settings.kintone_fields is None:
        return None
    return {
        "synced_at": _time_text(settings.kintone_synced_at),
        "app_name": settings.kintone_app_name,
        "fields": settings.kintone_fields,
        "report": settings.kintone_sync_report,
    }


def parse_kintone_state(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check `data` (as kintone_state returned it) → (fields, app_name, synced_at, report as a
    dict, {sub-path: message}). Shared by every kintone app a connector keeps a snapshot of."""
    errors: dict[str, str] = {}
    fields = data.get("fields")
    if not isinstance(fields, Mapping):
        errors["fields"] = MSG_NOT_MAPPING
    elif not all(
        isinstance(prop, Mapping) and isinstance(prop.get("type"), str) for prop in fields.values()
    ):
        errors["fields"] = MSG_FIELD_TYPE
    app_name = data.get("app_name", "")
    if not isinstance(app_name, str):
        errors["app_name"] = MSG_NOT_TEXT
    synced_at = _parse_time(data.get("synced_at"), "synced_at", errors)
    report = _report(data.get("report"), "report", errors)
    if report is not None and "source" in report:
        source = report["source"]
        if not (
            isinstance(source, Mapping)
            and isinstance(source.get("subdomain"), str)
            and isinstance(source.get("app_id"), str)
        ):
            errors["report.source"] = MSG_SOURCE
    values = {
        "fields": dict(fields) if isinstance(fields, Mapping) else None,
        "app_name": app_name[:255] if isinstance(app_name, str) else "",
        "synced_at": synced_at,
        "report": report,
    }
    return values, errors


def restore_kintone_state(settings: ConnectorSettings, data: Mapping[str, Any]) -> dict[str, str]:
    """Store `data` (as kintone_state returned it) on `settings` → {sub-path: message}.

    `report.source` names the subdomain and app the fields were read from; the page refuses
    kintone settings that point elsewhere.
    """
    values, errors = parse_kintone_state(data)
    if errors:
        return errors
    settings.kintone_fields = values["fields"]
    settings.kintone_app_name = values["app_name"]
    settings.kintone_synced_at = values["synced_at"]
    settings.kintone_sync_report = values["report"]
    return {}
