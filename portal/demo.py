"""`flask demo run`: the whole portal with sandboxes and sample data, as one foreground command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import requests
from flask import current_app
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo set-up: sandboxes, sample data and every portal process.")

DEMO_CONNECTOR_ID = "demo"
DEMO_EMAIL = "demo@example.com"


def _wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise click.ClickException(f"{url} did not answer within {timeout:.0f} s")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_on_termination(signum, _frame) -> None:
    # SIGTERM/SIGHUP end the demo like Ctrl-C, so every child process is stopped too.
    raise KeyboardInterrupt


def _spawn(name: str, args: list[str], env: dict) -> subprocess.Popen:
    click.echo(f"  starting {name}: {' '.join(args)}")
    # A new process group per child lets Ctrl-C reach each of them exactly once, from us.
    return subprocess.Popen(args, env=env, start_new_session=True)


def _stop(processes: list[tuple[str, subprocess.Popen]]) -> None:
    for _name, process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _name, process in processes:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _ensure_demo_account(instance: Path) -> str:
    """Create the demo account if missing; return the line telling how to sign in."""
    from sqlmodel import select

    from portal.auth.service import create_account
    from portal.db import session_scope
    from portal.models import Account

    password_file = instance / "demo_initial_password.txt"
    with session_scope() as session:
        account = session.exec(
            select(Account).where(Account.connector_id == DEMO_CONNECTOR_ID)
        ).first()
        if account is None:
            account, password = create_account(session, DEMO_CONNECTOR_ID, DEMO_EMAIL)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        if account.must_change_password and password_file.exists():
            return f"initial password: {password_file.read_text().strip()}"
        return "password: (already changed by you; reset with `flask --app wsgi accounts reset-password demo`)"


def _ensure_demo_connector(kintone_template: str, haihai_url: str, seeds: dict) -> None:
    from sqlmodel import select

    from portal.db import session_scope
    from portal.demo_fixtures import (
        configure_demo_connector,
        configure_same_field_demo_connector,
    )
    from portal.models import Account, Connector

    with session_scope() as session:
        account = session.exec(
            select(Account).where(Account.connector_id == DEMO_CONNECTOR_ID)
        ).one()
        has_connector = session.exec(
            select(Connector).where(Connector.account_id == account.id)
        ).first()
        if has_connector is None:
            configure_demo_connector(session, account.id, kintone_template, haihai_url, seeds)
            configure_same_field_demo_connector(
                session, account.id, kintone_template, haihai_url, seeds
            )


def connection_lines(seeds: dict) -> list[str]:
    """The banner's lines with the sandbox values a second connector's settings need."""
    kintone, haihai = seeds["kintone"], seeds["haihai"]
    return [
        "",
        "  デモ環境の接続情報 (新しい連携の Step2/Step3 に入力します。ポータルのメニュー",
        "  「デモ環境の接続情報」にも表示されます):",
        f"    kintone    サブドメイン: {kintone['subdomain']}   アプリID: {kintone['app_id']}"
        f"   APIトークン: {kintone['api_token']}",
        f"    配配メール URL: {haihai['url']}   ログインID: {haihai['login_id']}"
        f"   APIトークン: {haihai['api_token']}",
        "",
    ]


def _demo_env(app, redis_url: str, instance: Path, kintone_url: str, haihai_url: str) -> dict:
    """The environment of every demo child process (web, worker, scheduler, sandboxes)."""
    return dict(
        os.environ,
        REDIS_URL=redis_url,
        DATABASE_URL=app.config["DATABASE_URL"],
        PORTAL_INSTANCE_PATH=str(instance),
        KINTONE_BASE_URL_TEMPLATE=kintone_url + "/{subdomain}",
        HAIHAI_ALLOW_LOCAL_URLS="1",
        DEMO_KINTONE_URL=kintone_url,
        DEMO_HAIHAI_URL=haihai_url,
        # The demo is served over plain http on loopback; production keeps secure cookies.
        SESSION_COOKIE_SECURE="0",
    )


def _start_sandboxes(
    processes: list[tuple[str, subprocess.Popen]], env: dict, kintone_port: int, haihai_port: int
) -> None:
    """Start both sandboxes (appended to `processes` as they start)."""
    for name, service, service_port in (
        ("kintone sandbox", "kintone", kintone_port),
        ("配配メール sandbox", "haihai", haihai_port),
    ):
        args = [
            sys.executable,
            "-m",
            "sandbox",
            service,
            "--port",
            str(service_port),
            "--quiet",
        ]
        processes.append((name, _spawn(name, args, env)))


def _start_portal(processes: list[tuple[str, subprocess.Popen]], env: dict, port: int) -> None:
    """Start web (gunicorn), worker and scheduler (appended to `processes` as they start)."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    web = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    web += ["--threads", "4", "--access-logfile", "-"]
    web += ["--logger-class", "portal.web.access_log.PortalGunicornLogger", "wsgi:app"]
    processes.append(("web", _spawn("web", web, env)))
    processes.append(("worker", _spawn("worker", [*flask, "jobs", "worker"], env)))
    processes.append(("scheduler", _spawn("scheduler", [*flask, "jobs", "scheduler"], env)))


def _print_banner(
    port: int, login_line: str, kintone_url: str, haihai_url: str, seeds: dict
) -> None:
    """Where the portal and the sandboxes answer, how to sign in and the connection values."""
    from portal.demo_fixtures import DEMO_SUBDOMAIN

    click.echo("")
    click.echo(f"  portal:   http://127.0.0.1:{port}/")
    click.echo(f"  login:    {DEMO_CONNECTOR_ID}")
    click.echo(f"  {login_line}")
    click.echo(f"  kintone sandbox: {kintone_url}   配配メール sandbox: {haihai_url}/")
    click.echo(
        "  kintone plugin: import Setup.zip's plugin at "
        f"{kintone_url}/{DEMO_SUBDOMAIN}/k/admin/system/plugin/"
    )
    for line in connection_lines(seeds):
        click.echo(line)
    click.echo("  Ctrl-C stops everything.")


def _watch(processes: list[tuple[str, subprocess.Popen]]) -> None:
    """Wait until a child process stops (an error naming it)."""
    while True:
        for name, process in processes:
            if process.poll() is not None:
                raise click.ClickException(f"{name} stopped (exit code {process.returncode})")
        time.sleep(1)


@demo_cli.command("run")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")))
@click.option("--kintone-port", type=int, default=8101)
@click.option("--haihai-port", type=int, default=8102)
def demo_run(port: int, kintone_port: int, haihai_port: int) -> None:
    """Start sandboxes, web, worker and scheduler in the foreground; Ctrl-C stops everything."""
    from portal import migrate
    from portal.demo_fixtures import seed_sandboxes
    from portal.embedded_redis import ensure_embedded_redis, stop_embedded_redis

    busy = [p for p in (port, kintone_port, haihai_port) if _port_in_use(p)]
    if busy:
        raise click.ClickException(
            f"port {', '.join(map(str, busy))} is already in use (another demo still running?); "
            "stop it or choose other ports with PORT=… / --kintone-port / --haihai-port"
        )
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_termination)
    app = current_app._get_current_object()
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    embedded_redis = not os.environ.get("REDIS_URL")
    redis_url = os.environ.get("REDIS_URL") or ensure_embedded_redis(str(instance))

    migrate.upgrade(app.config["DATABASE_URL"])
    login_line = _ensure_demo_account(instance)

    kintone_url = f"http://127.0.0.1:{kintone_port}"
    haihai_url = f"http://127.0.0.1:{haihai_port}"
    env = _demo_env(app, redis_url, instance, kintone_url, haihai_url)
    processes: list[tuple[str, subprocess.Popen]] = []
    click.echo("配配メールコネクタ demo")
    try:
        _start_sandboxes(processes, env, kintone_port, haihai_port)
        _wait_until_up(kintone_url + "/_sandbox/stats")
        _wait_until_up(haihai_url + "/_sandbox/stats")
        seeds = seed_sandboxes(kintone_url, haihai_url)
        _ensure_demo_connector(kintone_url + "/{subdomain}", haihai_url, seeds)
        _start_portal(processes, env, port)
        # /healthz, not a page: its polls are DEBUG lines, so the banner below stays visible.
        _wait_until_up(f"http://127.0.0.1:{port}/healthz")
        _print_banner(port, login_line, kintone_url, haihai_url, seeds)
        _watch(processes)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        _stop(processes)
        if embedded_redis:
            stop_embedded_redis(str(instance))
