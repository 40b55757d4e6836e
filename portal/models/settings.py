"""連携設定 of a connector: Steps 1–4 and Step7 (other Steps keep their own tables)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.crypto import EncryptedText, register_encrypted_column
from portal.models.common import UTCDateTime, utcnow

HAIHAI_METHOD_MANUAL = "manual"  # 手動で設定する
HAIHAI_METHOD_SYNCED = "synced"  # 配配メールから同期した内容から設定する
DEFAULT_EMAIL_DISPLAY_NAME = "メールアドレス"


def _connector_fk(primary_key: bool = False) -> Column:
    return Column(
        String(26),
        ForeignKey("connectors.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
        index=not primary_key,
    )


class ConnectorSettings(SQLModel, table=True):
    """Steps 1–4 of one connector: plugin token, 配配メール and kintone access, email name."""

    __tablename__ = "connector_settings"

    connector_id: str = Field(sa_column=_connector_fk(primary_key=True))

    # Step1: only a hash of the plugin token is kept; `plugin_token_lookup` finds the row.
    plugin_token_lookup: str | None = Field(default=None, max_length=32, unique=True)
    plugin_token_hash: str | None = Field(default=None, sa_column=Column(EncryptedText()))
    plugin_token_issued_at: dt.datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime())
    )

    # Step2
    haihai_url: str = Field(default="", max_length=255)
    haihai_login_id: str = Field(default="", max_length=255)
    haihai_api_token: str | None = Field(default=None, sa_column=Column(EncryptedText()))
    haihai_method: str = Field(default=HAIHAI_METHOD_MANUAL, max_length=16)
    # Items, groups, step plans and forms as last fetched (see portal.settings.haihai_sync).
    haihai_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
    haihai_synced_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Warnings and removals of the last re-sync, shown until the next one.
    haihai_sync_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))

    # Step3
    kintone_subdomain: str = Field(default="", max_length=63)
    kintone_app_id: str = Field(default="", max_length=20)
    kintone_api_token: str | None = Field(default=None, sa_column=Column(EncryptedText()))
    kintone_app_name: str = Field(default="", max_length=255)
    # The `properties` object of app/form/fields.json as last fetched.
    kintone_fields: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
    kintone_synced_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    kintone_sync_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))

    # Step4 「3. 配配メールの「メールアドレス」項目の表示名」 (manual method only)
    email_display_name_custom: bool = Field(default=False)
    email_display_name: str = Field(default="", max_length=255)

    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class FieldMappingRow(SQLModel, table=True):
    """One row of 連携項目設定: a kintone field and the 配配メール item it feeds."""

    __tablename__ = "settings_field_mappings"
    __table_args__ = (
        UniqueConstraint("connector_id", "kintone_code", name="uq_mapping_kintone_field"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector_id: str = Field(sa_column=_connector_fk())
    position: int = Field(default=0)
    kintone_code: str = Field(max_length=128)
    # The item name (manual method: typed; synced method: the item's label at selection/sync).
    haihai_item: str = Field(default="", sa_column=Column(Text(), nullable=False))
    haihai_item_id: str | None = Field(default=None, max_length=64)
    is_email: bool = Field(default=False)


class ViewUrlSettingsRow(SQLModel, table=True):
    """Step7 顧客閲覧URL連携: timing and the kintone field receiving the URL."""

    __tablename__ = "view_url_settings"

    connector_id: str = Field(sa_column=_connector_fk(primary_key=True))
    timing: str = Field(default="off", max_length=16)
    target_field: str | None = Field(default=None, max_length=128)


register_encrypted_column("connector_settings", "plugin_token_hash")
register_encrypted_column("connector_settings", "haihai_api_token")
register_encrypted_column("connector_settings", "kintone_api_token")
