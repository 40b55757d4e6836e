"""`flask jobs worker` and `flask jobs scheduler`."""

from __future__ import annotations

import os
import socket

import click
from flask import current_app
from flask.cli import AppGroup

from jobs.worker import PortalWorker, wait_for_redis

jobs_cli = AppGroup("jobs", help="Background worker and scheduler.")

# Idle workers wake at least every WORKER_TTL - 15 s, busy ones every JOB_MONITORING_INTERVAL s;
# each wake-up refreshes the heartbeat /healthz reads.
WORKER_TTL = 30
JOB_MONITORING_INTERVAL = 10


def _configure_logging() -> str:
    """Set up this process's logging (PORTAL_LOG_LEVEL, LOG_FORMAT); returns the level name."""
    from portal.logs import configure_logging

    level = os.environ.get("PORTAL_LOG_LEVEL", "INFO").upper()
    configure_logging(level, current_app.config.get("LOG_FORMAT"))
    return level


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: host-pid).")
@click.option("--queue", "queues", multiple=True, help="Queue to listen on (repeatable).")
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    help="Also run RQ's built-in scheduler for delayed jobs.",
)
@click.option("--max-jobs", type=int, default=None, help="Stop after this many jobs.")
def worker(
    burst: bool,
    name: str | None,
    queues: tuple[str, ...],
    with_scheduler: bool,
    max_jobs: int | None,
) -> None:
    """Run an RQ worker with the app context pushed."""
    from jobs.reaper import on_work_horse_killed
    from portal.db import dispose_engine
    from portal.queueing import get_redis, queue_names

    level = _configure_logging()
    app = current_app._get_current_object()
    # The CLI may have touched the database before forking work horses; start clean.
    dispose_engine(app)
    connection = get_redis(app)
    # RQ's worker talks to Redis as soon as it is built: a worker started during an outage waits.
    wait_for_redis(connection, "worker")
    rq_worker = PortalWorker(
        list(queues) or queue_names(app),
        connection=connection,
        name=name or f"{socket.gethostname()}-{os.getpid()}",
        worker_ttl=WORKER_TTL,
        job_monitoring_interval=JOB_MONITORING_INTERVAL,
        work_horse_killed_handler=on_work_horse_killed,
    )
    rq_worker.work(
        burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level=level
    )


@jobs_cli.command("scheduler")
@click.option("--interval", type=float, default=5.0, show_default=True, help="Polling seconds.")
@click.option("--burst", is_flag=True, help="One pass, then exit.")
def scheduler(interval: float, burst: bool) -> None:
    """Run the clock: every minute jobs.schedule.dispatch_due, and the reaper on every pass."""
    from jobs.clock import run_clock
    from portal.queueing import get_redis

    _configure_logging()
    run_clock(get_redis(current_app._get_current_object()), interval=interval, burst=burst)


@jobs_cli.command("purge-runs")
def purge_runs_command() -> None:
    """Delete runs older than RUN_RETENTION_DAYS now (what the hourly purge job does)."""
    from jobs.retention import purge_runs

    _configure_logging()
    deleted = purge_runs()
    click.echo(f"deleted {deleted} runs")
