"""`flask runs start CONNECTOR PROCESS [--wait]`: a manual run, as the 実行 page's 「実行する」.

The run is refused exactly when the 実行 page would refuse it (a process the connector's type
does not offer it, or one set to 連携しない), created and committed before it is enqueued
(`create_run`), and with --wait its Run row is polled until it ends. The Run is printed as one
JSON line; the exit status is 0 for 成功 (or a run left 待機中 without --wait), 1 for エラー or a
refused start, and 2 when --timeout passed first.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from flask.cli import AppGroup
from werkzeug.datastructures import MultiDict

from portal.connector_types.loading import load_connector_config
from portal.connector_types.registry import UnknownConnectorType
from portal.db import session_scope
from portal.models import Connector, Run
from portal.models.runs import FAILED, MANUAL
from portal.runs import service
from portal.runs.targets import StartRefused, run_params, startable_target
from portal.syncs.context import RunOptionsInvalid

runs_cli = AppGroup("runs", help="Start runs of connector processes.")

EXIT_FAILED = 1
EXIT_TIMEOUT = 2


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def run_summary(run: Run, process_name: str) -> dict[str, Any]:
    """The JSON a script reads: task ID, status, counts and details of a Run."""
    return {
        "task_id": run.id,
        "connector_id": run.connector_id,
        "process": run.process_key,
        "process_name": process_name,
        "trigger": run.trigger,
        "status": run.status,
        "status_label": run.status_label,
        "processed": run.processed,
        "total": run.total,
        "error_code": run.error_code,
        "error_detail": run.error_detail,
        "message_detail": run.message_detail,
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
    }


def _parse_params(values: tuple[str, ...], allowed: tuple[str, ...]) -> MultiDict:
    """NAME=VALUE options as the 実行 page would post them (a name may repeat, e.g. types)."""
    params = MultiDict()
    for value in values:
        name, separator, text = value.partition("=")
        if not separator or name not in allowed:
            names = ", ".join(allowed) or "none"
            raise click.BadParameter(f"{value!r}: expected NAME=VALUE with NAME one of: {names}")
        params.add(name, text)
    return params


def start_run(connector_id: str, process_key: str, params: tuple[str, ...]) -> tuple[Run, str]:
    """Create and enqueue the run as the 実行 page does; (run, 連携処理名)."""
    with session_scope() as session:
        connector = session.get(Connector, connector_id)
        if connector is None:
            raise click.ClickException(f"no connector with ID {connector_id!r}")
        try:
            config = load_connector_config(session, connector.id)
            target = startable_target(connector, config, process_key)
        except UnknownConnectorType as error:
            raise click.ClickException(f"unknown connector type {connector.kind!r}") from error
        except StartRefused as refused:
            click.echo(refused.message, err=True)
            sys.exit(EXIT_FAILED)
        posted = _parse_params(params, target.process.params)
        try:
            accepted = run_params(target.process, posted, config)
        except RunOptionsInvalid as refused:
            click.echo(refused.message, err=True)
            sys.exit(EXIT_FAILED)
        run = service.create_run(session, connector.id, target.key, trigger=MANUAL, params=accepted)
        return run, target.name


def wait_for_end(run_id: str, interval: float, timeout: float | None) -> tuple[Run, bool]:
    """Poll the Run row until it ended (or `timeout` seconds passed) → (run, ended)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with session_scope() as session:
            run = session.get(Run, run_id)
        if run is None:
            raise click.ClickException(f"run {run_id} disappeared")
        if run.finished:
            return run, True
        if deadline is not None and time.monotonic() >= deadline:
            return run, False
        time.sleep(interval)


@runs_cli.command("start")
@click.argument("connector_id")
@click.argument("process_key")
@click.option("--wait", is_flag=True, help="Wait until the run ends; exit 1 on エラー.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run option the process accepts (as beside 「実行する」); repeatable.",
)
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, default=None, help="Stop waiting after SECONDS (exit 2).")
def start_command(
    connector_id: str,
    process_key: str,
    wait: bool,
    params: tuple[str, ...],
    interval: float,
    timeout: float | None,
) -> None:
    """Start PROCESS_KEY (e.g. customer:1, view_url) of CONNECTOR_ID as 「実行する」 does.

    Prints the Run as one JSON line: when it was queued, or with --wait when it ended.
    """
    run, name = start_run(connector_id, process_key, params)
    ended = run.finished
    if wait and not ended:
        try:
            run, ended = wait_for_end(run.id, max(0.05, interval), timeout)
        except KeyboardInterrupt:
            click.echo(f"stopped waiting; the run goes on (task ID {run.id})", err=True)
            sys.exit(130)
    click.echo(json.dumps(run_summary(run, name), ensure_ascii=False))
    if run.status == FAILED:
        sys.exit(EXIT_FAILED)
    if wait and not ended:
        sys.exit(EXIT_TIMEOUT)
