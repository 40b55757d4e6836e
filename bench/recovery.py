"""Recovery benchmark: how long the portal takes to notice and repair process and Redis faults.

Real `flask jobs worker` / `flask jobs scheduler` processes with the production timings (lock
TTL 45 s, run heartbeat 10 s, stale after 50 s, scheduler pass every 5 s) on a fresh SQLite
database and a private redis-server:

1. machine death: `kill -9` of a worker and its work horse during a run → when the group lock is
   free again, when the run shows エラー;
2. killed work horse (OOM killer): → when the run shows エラー and its lock is free;
3. Redis outage of `--outage` seconds (default 60) during a run, with a second worker idle,
   Redis restarted empty → when the run makes progress again, when /healthz is green, how long
   a new run requested right then takes (the idle worker rode out the outage too).

    .venv/bin/python -m bench.recovery               # about 3 minutes
    .venv/bin/python -m bench.recovery --outage 120
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bench.common import peak_rss_mb, print_result
from sandbox.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
STEPS = "bench:steps"


def _wait(predicate: Callable[[], object], timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"condition not met within {timeout} s")


class Bench:
    """The database, the Redis server and the portal processes of one benchmark run."""

    def __init__(self, folder: Path, logs: Path) -> None:
        from portal.embedded_redis import _redis_server_binary

        self.folder = folder
        self.logs = logs
        self.redis_binary = _redis_server_binary()
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.children: list[subprocess.Popen] = []
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))},
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PORTAL_INSTANCE_PATH": str(folder),
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "SECRET_KEY": "bench",
            "PORTAL_EXTRA_CONNECTOR_TYPES": "bench.recovery_process",
            "PYTHONPATH": str(ROOT),
        }

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [self.redis_binary, "--port", str(self.redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn = redis.Redis(port=self.redis_port)
        _wait(lambda: self._pings(conn), 10)
        conn.close()

    @staticmethod
    def _pings(conn: redis.Redis) -> bool:
        try:
            return bool(conn.ping())
        except redis.RedisError:
            return False

    def workers(self) -> int:
        """How many RQ workers are registered."""
        from rq import Worker

        conn = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            return Worker.count(connection=conn)
        finally:
            conn.close()

    def kill_redis(self) -> None:
        self.redis.kill()
        self.redis.wait(timeout=10)

    def spawn(self, *args: str, name: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.children.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.children:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.children:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if self.redis is not None and self.redis.poll() is None:
            self.kill_redis()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _setup(env: dict) -> tuple[object, list[str]]:
    os.environ.update(env)
    from portal import create_app, migrate
    from portal.db import session_scope
    from portal.models import Account, Connector

    migrate.upgrade(env["DATABASE_URL"])
    app = create_app()
    ids = []
    with app.app_context(), session_scope() as session:
        account = Account(connector_id="BENCH01", email="bench@example.jp", password_hash="x")
        session.add(account)
        session.flush()
        for n in range(4):
            connector = Connector(account_id=account.id, name=f"recovery {n}")
            session.add(connector)
            session.flush()
            ids.append(connector.id)
    return app, ids


def _create(app, connector_id: str, **params) -> str:
    from portal.db import session_scope
    from portal.runs.service import create_run

    with app.app_context(), session_scope() as session:
        return create_run(session, connector_id, STEPS, params=params).id


def _run(app, run_id: str):
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return session.get(Run, run_id)


def _lock(conn: redis.Redis, connector_id: str) -> str | None:
    from jobs.locks import lock_holder

    return lock_holder(conn, connector_id, "sync")


def machine_death(bench: Bench, app, connector_id: str) -> dict:
    """kill -9 of a worker and its horse: seconds until the lock is free and the run is エラー."""
    conn = redis.Redis.from_url(bench.env["REDIS_URL"])
    worker = bench.spawn("jobs", "worker", "--without-scheduler", name="worker-doomed")
    run_id = _create(app, connector_id, steps=100_000)
    _wait(lambda: _lock(conn, connector_id) == run_id, 120)
    time.sleep(2)
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    lock_free = failed = None
    while lock_free is None or failed is None:
        now = time.monotonic() - killed
        if lock_free is None and _lock(conn, connector_id) is None:
            lock_free = round(now, 1)
        if failed is None and _run(app, run_id).finished:
            failed = round(now, 1)
        if now > 300:
            raise SystemExit("machine death not detected within 300 s")
        time.sleep(0.2)
    conn.close()
    return {"lock_free_s": lock_free, "run_error_s": failed, "code": _run(app, run_id).error_code}


def horse_killed(bench: Bench, app, connector_id: str, worker) -> dict:
    """kill -9 of the work horse only: seconds until the run is エラー and its lock free."""
    conn = redis.Redis.from_url(bench.env["REDIS_URL"])
    run_id = _create(app, connector_id, steps=100_000)
    _wait(lambda: _lock(conn, connector_id) == run_id, 120)
    horse = _wait(lambda: _children(worker.pid), 10)[0]
    os.kill(horse, signal.SIGKILL)
    killed = time.monotonic()
    _wait(lambda: _run(app, run_id).finished and _lock(conn, connector_id) is None, 60, 0.02)
    conn.close()
    return {"run_error_and_lock_free_s": round(time.monotonic() - killed, 2)}


def redis_outage(bench: Bench, app, connectors: list[str], outage: float) -> dict:
    """Redis killed during a run and restarted empty after `outage` seconds."""
    conn = redis.Redis.from_url(bench.env["REDIS_URL"])
    run_id = _create(app, connectors[0], steps=int(outage) + 60, step_seconds=0.5)
    _wait(lambda: (_run(app, run_id).processed or 0) >= 5, 120)
    conn.close()
    bench.kill_redis()
    down = time.monotonic()
    processed_at_down = _run(app, run_id).processed
    time.sleep(outage)
    stalled = _run(app, run_id).processed
    bench.start_redis()
    up = time.monotonic()
    resumed = healthy = None
    client = app.test_client()
    while resumed is None or healthy is None:
        now = time.monotonic() - up
        if resumed is None and _run(app, run_id).processed > stalled:
            resumed = round(now, 1)
        if healthy is None and client.get("/healthz").status_code == 200:
            healthy = round(now, 1)
        if now > 180:
            raise SystemExit("no recovery within 180 s of Redis coming back")
        time.sleep(0.2)
    asked = time.monotonic()
    new_run = _create(app, connectors[1], steps=1)
    _wait(lambda: _run(app, new_run).finished, 120, 0.05)
    done_after = round(time.monotonic() - asked, 1)
    started = _run(app, new_run)
    _wait(lambda: _run(app, run_id).finished, outage + 300, 0.5)
    finished = _run(app, run_id)
    return {
        "outage_s": round(up - down, 1),
        "progress_during_outage": stalled - processed_at_down,
        "run_progress_again_s": resumed,
        "healthz_green_s": healthy,
        # from the request to 成功 of a one-step run (0.5 s of work)
        "new_run_done_s": done_after,
        "new_run_status": started.status,
        "run_in_flight": f"{finished.status} {finished.processed}/{finished.total}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Redis is down")
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
        bench = Bench(Path(folder), args.logs or Path(folder))
        bench.start_redis()
        app, connectors = _setup(bench.env)
        try:
            bench.spawn("jobs", "scheduler", name="scheduler")
            death = machine_death(bench, app, connectors[0])
            print(f"machine death: {death}", flush=True)
            worker = bench.spawn("jobs", "worker", "--without-scheduler", name="worker")
            horse = horse_killed(bench, app, connectors[1], worker)
            print(f"killed work horse: {horse}", flush=True)
            # A second, idle worker rides out the outage beside the busy one.
            bench.spawn("jobs", "worker", "--without-scheduler", name="worker-idle")
            _wait(lambda: bench.workers() >= 2, 120, 0.5)
            outage = redis_outage(bench, app, connectors[2:], args.outage)
            print(f"redis outage: {outage}", flush=True)
        finally:
            bench.stop_all()
            app.extensions["db_engine"].dispose()
    print_result(
        {
            "name": "recovery",
            "records": 0,
            "seconds": round(time.monotonic() - started, 1),
            "calls": {},
            "peak_rss_mb": peak_rss_mb(),
            "machine_death": death,
            "killed_work_horse": horse,
            "redis_outage": outage,
        }
    )


if __name__ == "__main__":
    main()
