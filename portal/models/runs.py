"""Runs (one row per execution of a connector process, its タスクID) and timed-run schedules."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    event,
    select,
    text,
)
from sqlmodel import Field, SQLModel

from portal.models.common import UTCDateTime, new_ulid, utcnow

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"

STATUS_LABELS = {QUEUED: "待機中", RUNNING: "処理中", SUCCEEDED: "成功", FAILED: "エラー"}
UNFINISHED = (QUEUED, RUNNING)
# SQL form of "unfinished", for the partial unique index below (SQLite and PostgreSQL).
_UNFINISHED_SQL = text("status IN ('queued', 'running')")

MANUAL = "manual"
SCHEDULE = "schedule"
PLUGIN = "plugin"
TRIGGERS = (MANUAL, SCHEDULE, PLUGIN)


class Schedule(SQLModel, table=True):
    """When one process of a connector runs by itself (a ScheduleSpec stored as JSON).

    Rows are disabled rather than deleted so their ids, which scheduled runs refer to, stay stable.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("connector_id", "process_key", name="uq_schedules_connector_process"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector_id: str = Field(foreign_key="connectors.id", index=True, max_length=26)
    process_key: str = Field(max_length=32)
    spec: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    # Slots before this moment never run: saving a schedule does not fire a time already past.
    effective_from: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Run(SQLModel, table=True):
    """One execution of a connector process; its id is the タスクID shown to users."""

    __tablename__ = "runs"
    __table_args__ = (
        # A timed slot runs at most once, however many ticks see it.
        UniqueConstraint("schedule_id", "scheduled_slot", name="uq_runs_schedule_slot"),
        # The 連携ログ pages newest first by the key (created_at, id), per account or per
        # connector; each index serves its filter and that order, so a page reads only its rows.
        Index("ix_runs_account_log", "account_id", "created_at", "id"),
        Index("ix_runs_connector_log", "connector_id", "created_at", "id"),
        # The retention purge finds the oldest runs of every account.
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_status_heartbeat_at", "status", "heartbeat_at"),
        # At most one unfinished run per connector and exclusion group (manual 付録6.3): a
        # second request while one is 待機中/処理中 cannot even be inserted as 待機中.
        Index(
            "uq_runs_unfinished_group",
            "connector_id",
            "exclusion_group",
            unique=True,
            sqlite_where=_UNFINISHED_SQL,
            postgresql_where=_UNFINISHED_SQL,
        ),
    )

    id: str = Field(default_factory=new_ulid, primary_key=True, max_length=26)
    connector_id: str = Field(foreign_key="connectors.id", max_length=26)
    # The connector's account, copied on insert (see _fill_account_id) so that the account's
    # 連携ログ is one index range instead of a join over every connector.
    account_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False)
    )
    process_key: str = Field(max_length=32)
    process_number: int | None = Field(default=None)  # 顧客情報連携 1–10
    trigger: str = Field(default=MANUAL, max_length=16)
    status: str = Field(default=QUEUED, max_length=16)
    processed: int = Field(default=0)
    total: int = Field(default=0)
    progress: float = Field(default=0.0)  # 0.0–1.0
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    heartbeat_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    message_detail: str | None = Field(default=None, sa_column=Column(Text))
    error_detail: str | None = Field(default=None, sa_column=Column(Text))
    # Machine-readable reason of an エラー (busy, daily_limit, worker_lost, failed, unexpected …).
    error_code: str | None = Field(default=None, max_length=32)
    schedule_id: int | None = Field(default=None, foreign_key="schedules.id")
    scheduled_slot: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    worker_name: str | None = Field(default=None, max_length=128)
    # The process's exclusion group while the run counts against it (None: rows created before
    # the group was recorded, and runs that never competed for a group).
    exclusion_group: str | None = Field(default=None, max_length=32)

    @property
    def status_label(self) -> str:
        """待機中 / 処理中 / 成功 / エラー."""
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def finished(self) -> bool:
        """True once the run ended in 成功 or エラー."""
        return self.status not in UNFINISHED


@event.listens_for(Run, "before_insert")
def _fill_account_id(_mapper, connection, run: Run) -> None:
    """Copy the connector's account onto a new run (connectors never change account)."""
    if run.account_id is None:
        from portal.models.connectors import Connector

        run.account_id = connection.execute(
            select(Connector.account_id).where(Connector.id == run.connector_id)
        ).scalar_one_or_none()


# States of a CSV part in the send journal: the upload was about to start, or 配配メール answered
# it with a job ID.
PART_SENDING = "sending"
PART_SENT = "sent"


class RunPart(SQLModel, table=True):
    """One CSV part a run sends to 配配メール, written before the upload and after its answer.

    A run that dies can then say what 配配メール already received, and the next run of the same
    process can skip a part whose job already succeeded with the same content.
    """

    __tablename__ = "run_parts"
    __table_args__ = (UniqueConstraint("run_id", "number", name="uq_run_parts_run_number"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True, max_length=26)
    number: int  # 1-based across the whole run (stop imports continue the numbering)
    fingerprint: str = Field(max_length=64)  # sha256 of the part's sorted lines and its options
    rows: int = Field(default=0)
    size: int = Field(default=0)  # bytes
    state: str = Field(default=PART_SENDING, max_length=16)
    job_id: str | None = Field(default=None, max_length=64)
    # The part was not uploaded again: the job of an earlier run had already imported it.
    reused: bool = Field(default=False)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
