"""顧客閲覧URL連携 benchmark: N kintone records, N 配配メール customers, run by a real worker.

Starts both sandboxes as separate processes, loads `--records` records into a kintone app and
as many customers into a 配配メール account (set-up, not timed), stores the connector's settings
in a fresh SQLite database, sets `--latency-ms` on kintone and `--haihai-latency-ms` on
配配メール, then presses 「実行する」 twice (create_run + one `flask jobs worker --burst` each, with
`KINTONE_READ_PARTITIONS=--partitions` when given). Reports the sync time from the run row,
the calls on each side, and the worker's peak memory (worker and work horse). The second run
finds nothing to change and must not write to kintone. Last line: JSON (bench.common).

    .venv/bin/python -m bench.view_url_sync --records 100000 --latency-ms 100 \
        --haihai-latency-ms 300 --partitions 4
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.common import peak_rss_mb, print_result, standard_parser
from sandbox.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
SUB = "bench"
ACCOUNT = "m90301"
LOGIN_ID = "bench"
TOKEN = "bench-token"
FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
TARGET_SECONDS = 15


def _start_sandbox(service: str, port: int, logs: Path) -> subprocess.Popen:
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


def _post(http: requests.Session, base: str, path: str, body: dict) -> dict:
    response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=600)
    response.raise_for_status()
    return response.json()


def _seed(http: requests.Session, kintone: str, haihai: str, records: int) -> str:
    fields = {
        "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
        "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
        "view_url": {"type": "LINK", "label": "配配メールURL", "protocol": "WEB"},
    }
    app = _post(http, kintone, "apps", {"subdomain": SUB, "fields": fields})["app"]
    _post(
        http,
        kintone,
        "tokens",
        {"subdomain": SUB, "app": app, "token": TOKEN, "permissions": ["view", "edit"]},
    )
    _post(
        http,
        haihai,
        "accounts",
        {
            "account_key": ACCOUNT,
            "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
        },
    )
    batch = 10_000
    for start in range(0, records, batch):
        numbers = range(start, min(records, start + batch))
        # Mixed-case domains on the kintone side: matched case-insensitively.
        rows = [
            {"mail": {"value": f"user{i:07d}@Example.JP"}, "name": {"value": f"利用者 {i}"}}
            for i in numbers
        ]
        _post(http, kintone, "records", {"subdomain": SUB, "app": app, "records": rows})
        customers = [{"email": f"user{i:07d}@example.jp"} for i in numbers]
        _post(http, haihai, "customers", {"account": ACCOUNT, "customers": customers})
    return app


def _configure_portal(env: dict, kintone: str, haihai: str, app_id: str) -> str:
    """Account, connector and settings in the bench database; returns the connector id."""
    os.environ.update(env)
    from portal import create_app, migrate
    from portal.db import session_scope
    from portal.models import Account, Connector
    from portal.models.settings import ConnectorSettings, FieldMappingRow, ViewUrlSettingsRow

    migrate.upgrade(env["DATABASE_URL"])
    application = create_app()
    with application.app_context(), session_scope() as session:
        account = Account(connector_id="BENCH01", email="bench@example.jp", password_hash="x")
        session.add(account)
        session.flush()
        connector = Connector(account_id=account.id, name="配配メール-kintone連携 (bench)")
        session.add(connector)
        session.flush()
        session.add(
            ConnectorSettings(
                connector_id=connector.id,
                haihai_url=f"{haihai}/{ACCOUNT}/",
                haihai_login_id=LOGIN_ID,
                haihai_api_token=TOKEN,
                kintone_subdomain=SUB,
                kintone_app_id=str(app_id),
                kintone_api_token=TOKEN,
            )
        )
        session.add(
            FieldMappingRow(
                connector_id=connector.id,
                kintone_code="mail",
                haihai_item="メールアドレス",
                is_email=True,
            )
        )
        session.add(
            ViewUrlSettingsRow(connector_id=connector.id, timing="manual", target_field="view_url")
        )
        connector_id = connector.id
    application.extensions["db_engine"].dispose()
    return connector_id


def _press_run(env: dict, connector_id: str, logs: Path, n: int, domain: str) -> dict:
    """create_run + a burst worker; the run row's figures and the domain's peak of slots."""
    from portal import create_app
    from portal.db import session_scope
    from portal.domain_slots import DomainSlots
    from portal.models import Run
    from portal.queueing import get_redis
    from portal.runs.service import create_run

    application = create_app()
    with application.app_context():
        slots = DomainSlots(get_redis(), domain, 1)
        slots.reset_peak()
    with application.app_context(), session_scope() as session:
        run_id = create_run(session, connector_id, "view_url").id
    started = time.monotonic()
    with open(logs / f"worker-{n}.log", "wb") as log:
        worker = subprocess.run(
            [
                str(Path(sys.executable).with_name("flask")),
                "--app",
                "wsgi",
                "jobs",
                "worker",
                "--burst",
                "--without-scheduler",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    wall = time.monotonic() - started
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
            "domain_slots_peak": slots.peak(),
        }
    from portal.queueing import close_redis

    close_redis(application)
    application.extensions["db_engine"].dispose()
    return figures


def _kintone_calls(http: requests.Session, kintone: str) -> dict[str, int]:
    return http.get(f"{kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30).json()[
        "calls"
    ]


def _concurrency(http: requests.Session, kintone: str) -> dict[str, int]:
    stats = http.get(f"{kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30).json()
    return stats["concurrency"].get(SUB, {})


def _haihai_calls(http: requests.Session, haihai: str) -> int:
    return http.get(f"{haihai}/_sandbox/stats", params={"account": ACCOUNT}, timeout=30).json()[
        "total_calls"
    ]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = standard_parser(__doc__.splitlines()[0], records=100_000, latency_ms=100)
    parser.add_argument(
        "--haihai-latency-ms",
        type=int,
        default=None,
        help="per 配配メール call (default: the same as --latency-ms)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="`$id` partitions read at once (KINTONE_READ_PARTITIONS; default: the portal's 4)",
    )
    args = parser.parse_args()
    haihai_latency = args.latency_ms if args.haihai_latency_ms is None else args.haihai_latency_ms
    work = Path(tempfile.mkdtemp(prefix="bench-view-url-"))
    logs = work / "logs"
    logs.mkdir()
    kintone_port, haihai_port = free_port(), free_port()
    kintone, haihai = f"http://127.0.0.1:{kintone_port}", f"http://127.0.0.1:{haihai_port}"
    sandboxes = [
        _start_sandbox("kintone", kintone_port, logs),
        _start_sandbox("haihai", haihai_port, logs),
    ]
    http = requests.Session()
    try:
        setup_started = time.monotonic()
        app_id = _seed(http, kintone, haihai, args.records)
        print(
            f"set-up: {args.records} records and customers loaded in {time.monotonic() - setup_started:.1f} s"
        )
        instance = work / "instance"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "SECRET_KEY": "bench",
            "KINTONE_BASE_URL_TEMPLATE": f"{kintone}/{{subdomain}}",
            "HAIHAI_ALLOW_LOCAL_URLS": "1",
            "PYTHONPATH": str(ROOT),
        }
        if args.partitions is not None:
            env["KINTONE_READ_PARTITIONS"] = str(args.partitions)
        connector_id = _configure_portal(env, kintone, haihai, app_id)
        _post(http, kintone, "config", {"latency_ms": args.latency_ms})
        _post(http, haihai, "config", {"latency_ms": haihai_latency})
        domain = f"127.0.0.1:{kintone_port}/{SUB}"

        results = []
        for n in (1, 2):
            h_before = _haihai_calls(http, haihai)
            _post(http, kintone, "stats/reset", {"subdomain": SUB})
            figures = _press_run(env, connector_id, logs, n, domain)
            figures["kintone_calls"] = _kintone_calls(http, kintone)
            figures["kintone_concurrency"] = _concurrency(http, kintone)
            figures["haihai_calls"] = _haihai_calls(http, haihai) - h_before
            results.append(figures)
            print(f"run {n}: {figures}")
        first, second = results
        kintone_writes = second["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0)
        ok = (
            first["status"] == second["status"] == "succeeded"
            and first["processed"] == first["total"] == args.records
            and first["sync_seconds"] < TARGET_SECONDS
            and kintone_writes == 0
            and not first["kintone_concurrency"].get("rejected")
            and not second["kintone_concurrency"].get("rejected")
        )
        print(
            f"first run {first['sync_seconds']} s (target < {TARGET_SECONDS} s), "
            f"second run {second['sync_seconds']} s with {kintone_writes} kintone write calls; "
            f"worker peak {peak_rss_mb(children=True)} MB; {'OK' if ok else 'MISSED'}"
        )
        print_result(
            {
                "name": "view_url_sync",
                "records": args.records,
                "latency_ms": args.latency_ms,
                "haihai_latency_ms": haihai_latency,
                "partitions": args.partitions,
                "seconds": first["sync_seconds"],
                "second_run_seconds": second["sync_seconds"],
                "calls": {
                    "kintone": sum(first["kintone_calls"].values()),
                    "kintone_writes": first["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0),
                    "haihai": first["haihai_calls"],
                    "second_run_kintone": sum(second["kintone_calls"].values()),
                    "second_run_kintone_writes": kintone_writes,
                    "second_run_haihai": second["haihai_calls"],
                },
                "peak_rss_mb": peak_rss_mb(children=True),
                "kintone_concurrency": first["kintone_concurrency"],
                "domain_slots_peak": first["domain_slots_peak"],
                "target_seconds": TARGET_SECONDS,
                "ok": ok,
            }
        )
    finally:
        http.close()
        for process in sandboxes:
            process.terminate()
            process.wait(timeout=10)
        if not os.environ.get("REDIS_URL"):
            from portal.embedded_redis import stop_embedded_redis

            # The portal started an embedded Redis in the bench's instance folder; end it too.
            stop_embedded_redis(str(work / "instance"))


if __name__ == "__main__":
    main()
