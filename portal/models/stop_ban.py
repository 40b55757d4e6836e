"""Step6 配信停止/禁止顧客一覧連携 of a connector: one row per connector."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlmodel import Field, SQLModel


class StopBanSettingsRow(SQLModel, table=True):
    """Timing, 連携種別 and the two rules of 「連携項目の設定」 (the schedule lives in the runs
    tables under process key "stop_ban").

    `stop_rule` / `ban_rule` are `FieldRule.to_json()` dicts ({field_code, field_type, values,
    when_cleared, cleared_values}) or None; only the rules the 連携種別 uses are stored.
    """

    __tablename__ = "stop_ban_settings"

    connector_id: str = Field(
        sa_column=Column(
            String(26), ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True
        )
    )
    timing: str = Field(default="off", max_length=16)
    mode: str = Field(default="separate", max_length=16)
    stop_rule: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
    ban_rule: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON()))
