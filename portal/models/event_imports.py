"""Step8 顧客反応履歴情報取込連携 and Step9 Bridgeフォーム連携: settings, extra kintone apps,
mappings of 配配メール database items, and the watermarks of their 差分 imports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.crypto import EncryptedText, register_encrypted_column
from portal.models.common import UTCDateTime, utcnow

REACTION = "reaction"  # 顧客反応履歴情報取込連携 (Step8)
BRIDGE = "bridge"  # Bridgeフォーム連携 (Step9)
ROLES = (REACTION, BRIDGE)


def _connector_fk(primary_key: bool = False) -> Column:
    return Column(
        String(26),
        ForeignKey("connectors.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
        index=not primary_key,
    )


class EventImportSettings(SQLModel, table=True):
    """One import process of a connector (role reaction or bridge) and its own kintone app.

    The app lives in the subdomain of Step3; its token, field snapshot and sync report are kept
    here the way Step3 keeps the customer app's. Reaction-only and Bridge-only columns stay at
    their defaults for the other role.
    """

    __tablename__ = "event_import_settings"

    connector_id: str = Field(sa_column=_connector_fk(primary_key=True))
    role: str = Field(primary_key=True, max_length=16)
    timing: str = Field(default="off", max_length=16)

    app_id: str = Field(default="", max_length=20)
    api_token: str | None = Field(default=None, sa_column=Column(EncryptedText()))
    app_name: str = Field(default="", max_length=255)
    # The `properties` of app/form/fields.json as last fetched by 「kintone項目の同期」.
    app_fields: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
    app_synced_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    app_sync_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))

    # Step8: 連携方式 ("full" or the pre-2024-06 "legacy"), whether this connector may keep the
    # legacy method (connectors created before the update), and the 連携種別.
    reaction_method: str = Field(default="full", max_length=16)
    legacy_method_allowed: bool = Field(default=False)
    event_types: list[str] | None = Field(default=None, sa_column=Column(JSON()))

    # Step9: フォーム選択 ("all" or "selected") and the selected form IDs.
    form_mode: str = Field(default="all", max_length=16)
    form_ids: list[str] | None = Field(default=None, sa_column=Column(JSON()))

    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class EventImportMapping(SQLModel, table=True):
    """A 配配メール database item written into a field of the reaction or Bridge app."""

    __tablename__ = "event_import_mappings"
    __table_args__ = (
        UniqueConstraint("connector_id", "role", "kintone_code", name="uq_event_mapping_field"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector_id: str = Field(sa_column=_connector_fk())
    role: str = Field(max_length=16)
    position: int = Field(default=0)
    kintone_code: str = Field(max_length=128)
    haihai_item: str = Field(default="", sa_column=Column(Text(), nullable=False))
    haihai_item_id: str | None = Field(default=None, max_length=64)


class EventWatermark(SQLModel, table=True):
    """How far the 差分 import of one stream (an event type or a Bridge form) has imported.

    `imported_until` is the time of the newest event of the stream that is in kintone; it only
    moves forward and only over events that were written (or found already imported).
    """

    __tablename__ = "event_import_watermarks"

    connector_id: str = Field(sa_column=_connector_fk(primary_key=True))
    role: str = Field(primary_key=True, max_length=16)
    stream: str = Field(primary_key=True, max_length=64)
    imported_until: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The reaction 連携方式 of the run that moved it (the next run's duplicate check follows it).
    method: str | None = Field(default=None, max_length=16)
    run_id: str | None = Field(default=None, max_length=26)
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


register_encrypted_column("event_import_settings", "api_token")
