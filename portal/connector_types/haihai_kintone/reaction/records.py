"""A 配配メール event as a record of the reaction app (付録4.2 / 4.4), and its identity (pure).

Values of the fixed fields:
- RH01MailAddress: the customer's address; RH01RecordDatetime: the event time with seconds
  (`YYYY-MM-DD HH:MM:SS`, account time zone); RH01RecordDatetime2: the same as a DATETIME (kintone
  keeps minutes); RH01ActionType: 開封 / クリック / Web来訪 / CV / ダウンロード; RH01MailType:
  グループ配信 / ステップメール / スポット配信 / トリガーメール; RH01MailId: the mail's number;
  RH01Detail: 配配メール's description of the event; RH01ClickURL / RH01TagName / RH01FileName:
  the clicked URL, the visit or CV tag, the downloaded file.
- RH01RecordDate (管理_日付): the event's date `YYYY-MM-DD`; RH01RecordLastUpdateDate
  (管理_配配メールコネクタ連携日時): when the connector wrote the record.

An event's identity is the tuple of its fixed linkage fields as written (the management fields
differ between runs); the duplicate check compares it with what the app holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.event_import.engine import identity_key
from portal.connector_types.haihai_kintone.event_import.mapping import ItemMapping, kintone_value
from portal.connector_types.haihai_kintone.event_import.values import (
    KintoneMinutes,
    kintone_number,
    local_text,
    one_line,
)
from portal.connector_types.haihai_kintone.reaction.config import METHOD_LEGACY
from portal.integrations.haihai import Event, EventKind

MAIL_TYPE_LABELS = {
    "group": "グループ配信",
    "step": "ステップメール",
    "spot": "スポット配信",
    "trigger": "トリガーメール",
}
IDENTITY_FIELDS = (
    "RH01MailAddress",
    "RH01RecordDatetime",
    "RH01ActionType",
    "RH01MailType",
    "RH01MailId",
    "RH01Detail",
    "RH01ClickURL",
    "RH01TagName",
    "RH01FileName",
)
LEGACY_IDENTITY_FIELDS = IDENTITY_FIELDS[:7]
NUMBER_FIELDS = frozenset({"RH01MailId"})


def identity_fields(method: str) -> tuple[str, ...]:
    """The fields that identify an event for a 連携方式."""
    return LEGACY_IDENTITY_FIELDS if method == METHOD_LEGACY else IDENTITY_FIELDS


ACTION_LABELS = {kind: kind.label for kind in EventKind}


def action_label(kind: EventKind | str) -> str:
    """The RH01ActionType value of an event kind."""
    return ACTION_LABELS[EventKind(kind)]


class EventValues:
    """Turns the events of one run into fixed-field values, reusing what many events share (the
    texts of a minute, the mail numbers): a run may convert a hundred thousand events."""

    def __init__(self, zone: ZoneInfo, written_at: str):
        self.zone = zone
        self.written_at = written_at
        self._minutes: dict[int, tuple[str, str]] = {}
        self._numbers: dict[str | None, str] = {}
        self._kintone_minutes = KintoneMinutes()

    def _minute(self, stamp: int) -> tuple[str, str]:
        """(local `YYYY-MM-DD HH:MM`, kintone DATETIME) of the minute holding `stamp`."""
        minute = stamp - stamp % 60
        found = self._minutes.get(minute)
        if found is None:
            local = dt.datetime.fromtimestamp(minute, self.zone)
            found = self._minutes[minute] = (
                local_text(local)[:16],
                self._kintone_minutes(minute),
            )
        return found

    def __call__(self, event: Event, stamp: int | None = None) -> dict[str, str]:
        """The fixed fields' values of `event` (every field of the full method)."""
        if stamp is None:
            stamp = int(event.occurred_at.timestamp())
        prefix, kintone_minute = self._minute(stamp)
        text = f"{prefix}:{stamp % 60:02d}"
        mail_id = self._numbers.get(event.mail_id)
        if mail_id is None:
            mail_id = self._numbers[event.mail_id] = kintone_number(event.mail_id)
        kind = event.kind
        mail_type = event.mail_type or ""
        return {
            "RH01MailAddress": event.email.strip(),
            "RH01RecordDatetime": text,
            "RH01RecordDatetime2": kintone_minute,
            "RH01ActionType": ACTION_LABELS[kind],
            "RH01MailType": MAIL_TYPE_LABELS.get(mail_type, mail_type),
            "RH01MailId": mail_id,
            "RH01Detail": one_line(event.detail or event.subject),
            "RH01ClickURL": (event.url or "").strip() if kind is EventKind.CLICK else "",
            "RH01TagName": one_line(event.tag_name),
            "RH01FileName": one_line(event.file_name),
            "RH01RecordDate": prefix[:10],
            "RH01RecordLastUpdateDate": self.written_at,
        }


def fixed_values(event: Event, zone: ZoneInfo, written_at: str) -> dict[str, str]:
    """The fixed fields' values of one event (see EventValues)."""
    return EventValues(zone, written_at)(event)


def identity_of(values: Mapping[str, Any], fields: Sequence[str]) -> bytes:
    """The identity of the values this process writes (numbers already as kintone keeps them)."""
    return identity_key([values.get(code) or "" for code in fields])


def identity_from_record(record: Mapping[str, Any], fields: Sequence[str]) -> bytes:
    """The identity of a record read from kintone (same key as identity_of for the same event)."""
    return identity_key(
        [
            kintone_number(value) if code in NUMBER_FIELDS else (value or "")
            for code in fields
            for value in ((record.get(code) or {}).get("value"),)
        ]
    )


def record_of(
    values: Mapping[str, str],
    fixed_codes: Sequence[str],
    mappings: Sequence[ItemMapping] = (),
    customer_values: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """The kintone record: the fixed fields of the method plus the mapped database items."""
    record: dict[str, dict[str, Any]] = {code: {"value": values[code]} for code in fixed_codes}
    if mappings and customer_values is not None:
        for mapped in mappings:
            raw = customer_values.get(mapped.haihai_item)
            record[mapped.kintone_code] = {"value": kintone_value(mapped.kintone_type, raw)}
    return record


def describe(values: Mapping[str, str], type_label: str) -> str:
    """How messages name an event: 「メール開封 2024-06-01 10:00:00 taro@example.jp」."""
    return f"{type_label} {values['RH01RecordDatetime']} {values['RH01MailAddress']}"


def written_stamp(moment: dt.datetime, zone: ZoneInfo) -> str:
    """管理_配配メールコネクタ連携日時 of a run."""
    return local_text(moment.astimezone(zone))
