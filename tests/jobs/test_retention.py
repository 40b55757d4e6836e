"""Run retention: the purge deletes old finished runs (and rows referring to them) in short
batches, dispatch_due enqueues it at most once an hour, and writers never wait for long."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import sqlalchemy as sa
from rq import Queue
from sqlmodel import SQLModel, select

from portal.db import session_scope
from portal.models import Account, Connector, Run
from portal.models.runs import FAILED, QUEUED, RUNNING, SUCCEEDED
from portal.runs.retention import purge_expired_runs, retention_cutoff
from tests.jobs.conftest import make_connector

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _connector(app) -> str:
    with app.app_context(), session_scope() as session:
        account = Account(connector_id="HC0001", email="a@example.com", password_hash="x")
        session.add(account)
        session.flush()
        connector = Connector(account_id=account.id, name="連携")
        session.add(connector)
        session.flush()
        return connector.id


def _insert_runs(
    app, connector_id: str, ages_days: list[float], status: str = SUCCEEDED, now=NOW
) -> list[str]:
    """Runs created `age` days before `now` (bulk insert); returns their ids in order."""
    from portal.models import new_ulid

    with app.app_context(), session_scope() as session:
        account_id = session.get(Connector, connector_id).account_id
        rows = [
            {
                "id": new_ulid(),
                "connector_id": connector_id,
                "account_id": account_id,
                "process_key": "customer:1",
                "trigger": "manual",
                "status": status,
                "processed": 1,
                "total": 1,
                "progress": 1.0,
                "params": {},
                "created_at": now - dt.timedelta(days=age),
                "error_detail": "詳細" if status == FAILED else None,
            }
            for age in ages_days
        ]
        session.execute(sa.insert(Run.__table__), rows)
    return [row["id"] for row in rows]


def _remaining(app) -> set[str]:
    with app.app_context(), session_scope() as session:
        return set(session.exec(select(Run.id)).all())


def test_purge_removes_finished_runs_past_the_age_in_batches_and_keeps_the_rest(app):
    connector = _connector(app)
    expired = _insert_runs(app, connector, [401, 402, 500, 700, 900, 1000, 1200])
    expired += _insert_runs(app, connector, [450], status=FAILED)
    kept = _insert_runs(app, connector, [0, 1, 399.9])
    unfinished = _insert_runs(app, connector, [800], status=RUNNING)
    unfinished += _insert_runs(app, connector, [800], status=QUEUED)
    pauses: list[float] = []

    with app.app_context():
        result = purge_expired_runs(
            app.extensions["db_engine"],
            retention_cutoff(NOW, 400),
            batch_size=3,
            pause_seconds=0.01,
            sleep=pauses.append,
        )
    assert result.deleted == 8
    assert result.batches == 3  # 3 + 3 + 2, oldest first
    assert pauses == [0.01, 0.01]  # a pause between full batches only
    assert _remaining(app) == set(kept) | set(unfinished)
    assert not set(expired) & _remaining(app)


def test_rows_referring_to_a_purged_run_are_deleted_with_it(app):
    # A table added later with a foreign key to runs (e.g. per-run details) needs no change in
    # the purge: it follows every foreign key that points at runs.id, before deleting the run.
    notes = sa.Table(
        "run_notes_for_test",
        SQLModel.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("text", sa.Text),
    )
    engine = app.extensions["db_engine"]
    notes.create(engine)
    try:
        connector = _connector(app)
        old = _insert_runs(app, connector, [500, 600])
        young = _insert_runs(app, connector, [10])
        with engine.begin() as connection:
            connection.execute(
                notes.insert(), [{"run_id": run_id, "text": "x"} for run_id in old + young]
            )
        with app.app_context():
            result = purge_expired_runs(engine, retention_cutoff(NOW, 400), pause_seconds=0)
        assert result.deleted == 2
        with engine.connect() as connection:
            left = connection.execute(sa.select(notes.c.run_id)).scalars().all()
        assert left == young
    finally:
        notes.drop(engine)
        SQLModel.metadata.remove(notes)


def test_the_clock_purges_once_an_hour_beside_the_run_queue(jobs, jobs_redis):
    from jobs.retention import PURGE_DUE_KEY

    connector = make_connector(jobs.app, "HC0001")
    now = dt.datetime.now(dt.UTC)
    with jobs.app.app_context(), session_scope() as session:
        for age in (401, 420, 10):
            session.add(
                Run(
                    connector_id=connector,
                    process_key="customer:1",
                    status=SUCCEEDED,
                    created_at=now - dt.timedelta(days=age),
                )
            )
    jobs_redis.delete(PURGE_DUE_KEY)
    for name in ("clock-1", "clock-2"):  # a second pass (or scheduler) in the hour: no purge
        process = jobs.start("jobs", "scheduler", "--burst", "--interval", "1", name=name)
        assert process.wait(timeout=60) == 0, jobs.log_text()
    assert 3000 < jobs_redis.ttl(PURGE_DUE_KEY) <= 3600
    with jobs.app.app_context(), session_scope() as session:
        ages = [(now - run.created_at).days for run in session.exec(select(Run)).all()]
    assert ages == [10]
    assert jobs.log_text().count("runs.purged deleted=2 batches=1") == 1
    # Nothing of it waits on the run queue.
    assert Queue("default", connection=jobs_redis).get_jobs() == []


def test_a_writer_waits_at_most_one_short_batch_while_a_large_purge_runs(jobs):
    """A real purge process over thousands of runs; this process keeps inserting runs."""
    connector = make_connector(jobs.app, "HC0001")
    ages = [401 + n / 100 for n in range(30_000)]
    _insert_runs(jobs.app, connector, ages, now=dt.datetime.now(dt.UTC))

    waits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        with jobs.app.app_context():
            while not stop.is_set():
                started = time.perf_counter()
                with session_scope() as session:
                    session.add(Run(connector_id=connector, process_key="view_url"))
                waits.append(time.perf_counter() - started)
                time.sleep(0.02)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    purge = jobs.start(
        "jobs",
        "purge-runs",
        name="purge",
        env={"PORTAL_RUN_RETENTION_BATCH_SIZE": "1000"},
    )
    assert purge.wait(timeout=120) == 0, jobs.log_text()
    stop.set()
    thread.join(timeout=10)

    line = re.search(
        r"runs\.purged deleted=(\d+) batches=(\d+) .* seconds=([\d.]+)", jobs.log_text()
    )
    assert line, jobs.log_text()
    deleted, batches, purge_seconds = int(line[1]), int(line[2]), float(line[3])
    # The purge took a while, yet no insert waited for more than a fraction of it: the
    # database was locked one short batch at a time, never for the whole purge.
    assert len(waits) > 20
    assert max(waits) < 1.0, (max(waits), purge_seconds)
    assert max(waits) < purge_seconds / 3, (max(waits), purge_seconds)
    assert (deleted, batches) == (30_000, 30)
    assert "deleted 30000 runs" in jobs.log_text()
    with jobs.app.app_context(), session_scope() as session:
        kept = session.exec(select(Run.process_key)).all()
    assert set(kept) == {"view_url"} and len(kept) == len(waits)  # every write went through
