"""Shared parts of the import benchmarks (reaction history, Bridge answers): sandboxes as separate
processes, a portal database configured for one connector, and 「実行する」 + a burst worker."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from sandbox.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
SUB = "bench"
ACCOUNT = "m90401"
LOGIN_ID = "bench"
TOKEN = "bench-token"
FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="


def start_sandbox(service: str, port: int, logs: Path) -> subprocess.Popen:
    """`python -m sandbox <service>` on `port`, waited for until it answers."""
    log = open(logs / f"{service}.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", service, "--port", str(port), "--quiet"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/_sandbox/config", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{service} sandbox did not start")


def admin(http: requests.Session, base: str, path: str, body: dict) -> dict:
    """POST to a sandbox admin API (fails loudly)."""
    response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=600)
    response.raise_for_status()
    return response.json()


class Bench:
    """Two sandboxes, a work folder and the environment of the portal's processes."""

    def __init__(self, prefix: str):
        self.work = Path(tempfile.mkdtemp(prefix=prefix))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.kintone = f"http://127.0.0.1:{free_port()}"
        self.haihai = f"http://127.0.0.1:{free_port()}"
        self.processes = [
            start_sandbox("kintone", int(self.kintone.rsplit(":", 1)[1]), self.logs),
            start_sandbox("haihai", int(self.haihai.rsplit(":", 1)[1]), self.logs),
        ]
        self.http = requests.Session()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.work / 'bench.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(self.work / "instance"),
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "SECRET_KEY": "bench",
            "KINTONE_BASE_URL_TEMPLATE": f"{self.kintone}/{{subdomain}}",
            "HAIHAI_ALLOW_LOCAL_URLS": "1",
            "PYTHONPATH": str(ROOT),
        }

    def configure(self, build: Callable[[object, str], None]) -> str:
        """Migrate, create an account and a connector; `build(session, connector_id)` adds the
        settings → the connector id."""
        os.environ.update(self.env)
        from portal import create_app, migrate
        from portal.db import session_scope
        from portal.models import Account, Connector

        migrate.upgrade(self.env["DATABASE_URL"])
        application = create_app()
        with application.app_context(), session_scope() as session:
            account = Account(connector_id="BENCH01", email="bench@example.jp", password_hash="x")
            session.add(account)
            session.flush()
            connector = Connector(account_id=account.id, name="配配メール-kintone連携 (bench)")
            session.add(connector)
            session.flush()
            build(session, connector.id)
            connector_id = connector.id
        application.extensions["db_engine"].dispose()
        return connector_id

    def press_run(self, connector_id: str, process: str, n: int, **params) -> dict:
        """create_run + a burst worker → the run row's figures."""
        from portal import create_app
        from portal.db import session_scope
        from portal.models import Run
        from portal.runs.service import create_run

        application = create_app()
        with application.app_context(), session_scope() as session:
            run_id = create_run(session, connector_id, process, params=params).id
        started = time.monotonic()
        sandbox_cpu = [process_cpu_seconds(p.pid) for p in self.processes]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        flask = str(Path(sys.executable).with_name("flask"))
        with open(self.logs / f"worker-{n}.log", "wb") as log:
            worker = subprocess.run(
                [flask, "--app", "wsgi", "jobs", "worker", "--burst", "--without-scheduler"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        kintone_cpu, haihai_cpu = (
            process_cpu_seconds(p.pid) - before
            for p, before in zip(self.processes, sandbox_cpu, strict=True)
        )
        with application.app_context(), session_scope() as session:
            run = session.get(Run, run_id)
            figures = {
                "status": run.status,
                "processed": run.processed,
                "total": run.total,
                "error": run.error_detail,
                "sync_seconds": round((run.finished_at - run.started_at).total_seconds(), 2),
                "worker_wall_seconds": round(wall, 2),
                "worker_exit": worker.returncode,
                # CPU seconds spent, which machine load does not inflate like wall time.
                "cpu_seconds": {
                    "worker": round(worker_cpu, 2),
                    "kintone_sandbox": round(kintone_cpu, 2),
                    "haihai_sandbox": round(haihai_cpu, 2),
                },
            }
        from portal.queueing import close_redis

        close_redis(application)
        application.extensions["db_engine"].dispose()
        return figures

    def kintone_calls(self) -> dict[str, int]:
        """Calls the kintone sandbox answered so far, by method and path."""
        stats = self.http.get(
            f"{self.kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30
        )
        return stats.json()["calls"]

    def haihai_calls(self) -> int:
        """Calls the 配配メール sandbox answered so far for the bench account."""
        stats = self.http.get(
            f"{self.haihai}/_sandbox/stats", params={"account": ACCOUNT}, timeout=30
        )
        return stats.json()["total_calls"]

    def latency(self, kintone_ms: int, haihai_ms: int) -> None:
        """Set each sandbox's latency per call."""
        admin(self.http, self.kintone, "config", {"latency_ms": kintone_ms})
        admin(self.http, self.haihai, "config", {"latency_ms": haihai_ms})

    def close(self) -> None:
        """Stop the sandboxes and the embedded Redis the portal may have started."""
        self.http.close()
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)
        if not os.environ.get("REDIS_URL"):
            from portal.embedded_redis import stop_embedded_redis

            stop_embedded_redis(str(self.work / "instance"))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def diff_calls(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Calls made between two readings of kintone_calls."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
