"""Step5 顧客情報連携設定 1–10 of a connector: one row per setting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel


class CustomerSyncRow(SQLModel, table=True):
    """One 顧客情報連携設定 (number 1–10): target, mode, options and conditions.

    Only options that apply to the target and mode are ever stored (the page's parser drops
    the others); the schedule lives in the runs tables under process key "customer:<number>".
    """

    __tablename__ = "customer_sync_settings"
    __table_args__ = (UniqueConstraint("connector_id", "number", name="uq_customer_sync_number"),)

    id: int | None = Field(default=None, primary_key=True)
    connector_id: str = Field(
        sa_column=Column(
            String(26), ForeignKey("connectors.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    number: int = Field(default=1)
    timing: str = Field(default="manual", max_length=16)
    target_type: str = Field(default="database", max_length=16)
    # 配信グループID / ステップメールプランID and, when chosen from the synced lists, its name.
    target_id: str | None = Field(default=None, max_length=64)
    target_name: str = Field(default="", max_length=255)
    mode: str = Field(default="register", max_length=16)
    status_change: str | None = Field(default=None, max_length=8)
    overwrite: bool = Field(default=False)
    blank_overwrites: bool = Field(default=False)
    stop_missing: bool = Field(default=False)
    allow_present: bool = Field(default=False)
    report_mail: str = Field(default="never", max_length=16)
    # {"match": "all"|"any", "conditions": [{field_code, field_type, operator, value}, ...]}
    conditions: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
