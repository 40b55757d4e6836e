"""Connectors an account has configured."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from portal.models.common import UTCDateTime, new_ulid, utcnow

HAIHAI_KINTONE = "haihai_kintone"


class Connector(SQLModel, table=True):
    """One configured connector of an account (e.g. 配配メール-kintone 連携)."""

    __tablename__ = "connectors"

    id: str = Field(default_factory=new_ulid, primary_key=True, max_length=26)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    kind: str = Field(default=HAIHAI_KINTONE, max_length=32)
    name: str = Field(max_length=100)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
