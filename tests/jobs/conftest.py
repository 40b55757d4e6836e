"""Real Redis, a migrated SQLite file and real `flask jobs worker` / `scheduler` processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conftest import TEST_FERNET_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
# Job tests use their own Redis database so other suites flushing theirs cannot disturb them.
JOBS_REDIS_DB = 13


def redis_url_with_db(url: str, db: int) -> str:
    """`url` pointing at database `db` (tcp or unix-socket form)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
        query = f"{query}&db={db}" if query else f"db={db}"
        return f"unix://{parts.path}?{query}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def jobs_redis_url(redis_url) -> Iterator[str]:
    """The test Redis on a database private to the job tests, flushed before and after."""
    url = redis_url_with_db(redis_url, JOBS_REDIS_DB)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    yield url
    conn.flushdb()
    conn.close()


@pytest.fixture
def jobs_redis(jobs_redis_url) -> Iterator[redis.Redis]:
    """A redis-py connection to the job tests' Redis database."""
    conn = redis.Redis.from_url(jobs_redis_url)
    yield conn
    conn.close()


@dataclass
class JobsHarness:
    """The app, its environment for subprocesses and the processes started by a test."""

    app: object
    env: dict
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, *args: str, name: str = "proc", env: dict | None = None) -> subprocess.Popen:
        """Start `flask --app wsgi <args>` in its own process group."""
        log = open(self.logs / f"{name}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [FLASK, "--app", "wsgi", *args],
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def worker(
        self, *args: str, name: str | None = None, env: dict | None = None
    ) -> subprocess.Popen:
        """Start a long-running worker (no RQ scheduler, named `name`)."""
        extra = ["--name", name] if name else []
        return self.start(
            "jobs", "worker", "--without-scheduler", *extra, *args, name=name or "worker", env=env
        )

    def burst(self, *args: str, name: str | None = None, timeout: float = 60) -> None:
        """Run a burst worker until the queue is empty."""
        process = self.worker("--burst", *args, name=name)
        assert process.wait(timeout=timeout) == 0, self.log_text()

    def log_text(self) -> str:
        """All process output so far (for assertion messages)."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def stop_all(self) -> None:
        """Terminate (then kill) every process still running."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def jobs(tmp_path, sqlite_template, jobs_redis_url) -> Iterator[JobsHarness]:
    """An app on a fresh SQLite file and the same settings as environment for real workers."""
    from portal import create_app
    from portal.queueing import close_redis

    database = tmp_path / "jobs.sqlite3"
    shutil.copyfile(sqlite_template, database)
    instance = tmp_path / "instance"
    instance.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    timings = {
        "RUN_LOCK_TTL_SECONDS": "2",
        "RUN_HEARTBEAT_SECONDS": "0.5",
        "RUN_STALE_SECONDS": "3",
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))},
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": jobs_redis_url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
        "SECRET_KEY": "test-secret-key",
        "PORTAL_EXTRA_CONNECTOR_TYPES": "tests.jobs.processes",
        "PORTAL_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(PROJECT_ROOT),
        **{f"PORTAL_{k}": v for k, v in timings.items()},
    }
    from portal.connector_types.registry import load_connector_types

    load_connector_types(extra=["tests.jobs.processes"])  # the same test processes in here

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": jobs_redis_url,
            "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
            **{k: float(v) for k, v in timings.items()},
        }
    )
    harness = JobsHarness(app=app, env=env, logs=logs)
    yield harness
    harness.stop_all()
    close_redis(app)
    app.extensions["db_engine"].dispose()


@pytest.fixture
def connector_id(jobs) -> str:
    """A connector of a fresh account (time zone Asia/Tokyo)."""
    return make_connector(jobs.app, "HC0001")


def make_connector(app, account_code: str, name: str = "配配メール-kintone連携01") -> str:
    """Insert an account and one connector; return the connector id."""
    from portal.db import session_scope
    from portal.models import Account, Connector

    with app.app_context(), session_scope() as session:
        account = Account(
            connector_id=account_code, email=f"{account_code}@example.com", password_hash="x"
        )
        session.add(account)
        session.flush()
        connector = Connector(account_id=account.id, name=name)
        session.add(connector)
        session.flush()
        return connector.id
