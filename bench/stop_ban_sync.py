"""配信停止/禁止顧客一覧連携 benchmark: N kintone records, every one in 配配メール's lists, real worker.

Starts both sandboxes as separate processes, loads `--records` kintone records (address + the
two Step6 fields) and as many 配配メール customers, each 配信停止 or 配信禁止 or both (set-up, not
timed), stores a connector whose Step6 is 「両方、別々の項目に連携する」 with both 「…ではなくなった
場合の連携」 in a fresh SQLite database, sets `--latency-ms` on kintone and
`--haihai-latency-ms` on 配配メール, then presses 「実行する」 twice (create_run + one
`flask jobs worker --burst` each). The first run writes every record; the second finds nothing
to change and must not write to kintone at all. Last line: JSON (bench.common).

    .venv/bin/python -m bench.stop_ban_sync --records 250001 --latency-ms 100 --haihai-latency-ms 300
"""

from __future__ import annotations

import math
import os
import re
import resource
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
ACCOUNT = "m90601"
LOGIN_ID = "bench"
TOKEN = "bench-token"
FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
TARGET_SECONDS = 60
TARGET_SECOND_RUN_SECONDS = 35
TARGET_MEMORY_MB = 300
READS = "GET /k/v1/records.json"
WRITES = "POST /k/v1/bulkRequest.json"


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
    response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=900)
    response.raise_for_status()
    return response.json()


def _memberships(i: int) -> list[dict]:
    """Every customer is in a list: odd ones 配信停止, even ones 配信禁止, every fifth both."""
    if i % 5 == 0:
        return [{"gid": "1", "state": "stop"}, {"gid": "2", "state": "ban"}]
    if i % 2:
        return [{"gid": "1", "state": "stop"}]
    return [{"gid": "2", "state": "ban"}]


def _seed(http: requests.Session, kintone: str, haihai: str, records: int) -> str:
    choices = {
        "stop": ("配信停止", "配信停止ではない"),
        "ban": ("配信禁止", "配信禁止ではない"),
    }
    fields = {
        "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
        **{
            code: {
                "type": "DROP_DOWN",
                "label": labels[0],
                "options": {o: {"label": o, "index": str(n)} for n, o in enumerate(labels)},
            }
            for code, labels in choices.items()
        },
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
            "groups": [{"gid": "1", "name": "メルマガ"}, {"gid": "2", "name": "セミナー"}],
            "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
        },
    )
    batch = 10_000
    for start in range(0, records, batch):
        numbers = range(start, min(records, start + batch))
        # Mixed-case domains on the kintone side: matched case-insensitively.
        rows = [{"mail": {"value": f"user{i:07d}@Example.JP"}} for i in numbers]
        _post(http, kintone, "records", {"subdomain": SUB, "app": app, "records": rows})
        customers = [
            {"email": f"user{i:07d}@example.jp", "memberships": _memberships(i)} for i in numbers
        ]
        _post(http, haihai, "customers", {"account": ACCOUNT, "customers": customers})
    return app


def _configure_portal(env: dict, haihai: str, app_id: str) -> str:
    """Account, connector and settings in the bench database; returns the connector id."""
    os.environ.update(env)
    from portal import create_app, migrate
    from portal.connector_types.haihai_kintone.stop_ban.config import MODE_SEPARATE, FieldRule
    from portal.db import session_scope
    from portal.models import Account, Connector
    from portal.models.settings import ConnectorSettings, FieldMappingRow
    from portal.models.stop_ban import StopBanSettingsRow

    migrate.upgrade(env["DATABASE_URL"])
    application = create_app()
    with application.app_context(), session_scope() as session:
        account = Account(connector_id="BENCH06", email="bench@example.jp", password_hash="x")
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
        stop = FieldRule("stop", "DROP_DOWN", ("配信停止",), True, ("配信停止ではない",))
        ban = FieldRule("ban", "DROP_DOWN", ("配信禁止",), True, ("配信禁止ではない",))
        session.add(
            StopBanSettingsRow(
                connector_id=connector.id,
                timing="manual",
                mode=MODE_SEPARATE,
                stop_rule=stop.to_json(),
                ban_rule=ban.to_json(),
            )
        )
        connector_id = connector.id
    application.extensions["db_engine"].dispose()
    return connector_id


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _press_run(env: dict, connector_id: str, logs: Path, n: int) -> dict:
    """create_run + a burst worker; the run row's figures."""
    from portal import create_app
    from portal.db import session_scope
    from portal.models import Run
    from portal.runs.service import create_run

    application = create_app()
    with application.app_context(), session_scope() as session:
        run_id = create_run(session, connector_id, "stop_ban").id
    started = time.monotonic()
    cpu_before = _children_cpu_seconds()
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
    worker_cpu = _children_cpu_seconds() - cpu_before
    with application.app_context(), session_scope() as session:
        run = session.get(Run, run_id)
        figures = {
            "status": run.status,
            "processed": run.processed,
            "total": run.total,
            "error": run.error_detail,
            "detail": run.message_detail,
            "sync_seconds": round((run.finished_at - run.started_at).total_seconds(), 2),
            "worker_wall_seconds": round(wall, 2),
            "worker_cpu_seconds": round(worker_cpu, 2),
            "worker_exit": worker.returncode,
        }
    from portal.queueing import close_redis

    close_redis(application)
    application.extensions["db_engine"].dispose()
    return figures


def _kintone_calls(http: requests.Session, kintone: str) -> dict[str, int]:
    return http.get(f"{kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30).json()[
        "calls"
    ]


def _haihai_calls(http: requests.Session, haihai: str) -> int:
    return http.get(f"{haihai}/_sandbox/stats", params={"account": ACCOUNT}, timeout=30).json()[
        "total_calls"
    ]


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _changed(detail: str | None) -> int | None:
    """Records written, as メッセージ詳細 reports them (「更新: N件」)."""
    match = re.search(r"更新: ([\d,]+)件", detail or "")
    return int(match.group(1).replace(",", "")) if match else None


def _run_twice(http, kintone, haihai, env, connector_id, logs, sandboxes) -> list[dict]:
    results = []
    for n in (1, 2):
        k_before, h_before = _kintone_calls(http, kintone), _haihai_calls(http, haihai)
        sandbox_cpu = [_cpu_seconds(p.pid) for p in sandboxes]
        figures = _press_run(env, connector_id, logs, n)
        figures["kintone_sandbox_cpu_seconds"], figures["haihai_sandbox_cpu_seconds"] = (
            round(_cpu_seconds(p.pid) - before, 2)
            for p, before in zip(sandboxes, sandbox_cpu, strict=True)
        )
        figures["load_average"] = round(os.getloadavg()[0], 1)
        calls = _diff(_kintone_calls(http, kintone), k_before)
        figures["kintone_calls"] = sum(calls.values())
        figures["kintone_reads"] = calls.get(READS, 0)
        figures["kintone_writes"] = calls.get(WRITES, 0)
        figures["haihai_calls"] = _haihai_calls(http, haihai) - h_before
        results.append(figures)
        shown = {k: v for k, v in figures.items() if k != "detail"}
        print(f"run {n}: {shown}")
        print(figures["detail"] or "")
    return results


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = standard_parser(__doc__.splitlines()[0], records=250_001, latency_ms=100)
    parser.add_argument("--haihai-latency-ms", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-stop-ban-"))
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
            f"set-up: {args.records} records and customers loaded in "
            f"{time.monotonic() - setup_started:.1f} s"
        )
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(work / "instance"),
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "SECRET_KEY": "bench",
            "KINTONE_BASE_URL_TEMPLATE": f"{kintone}/{{subdomain}}",
            "HAIHAI_ALLOW_LOCAL_URLS": "1",
            "PYTHONPATH": str(ROOT),
        }
        connector_id = _configure_portal(env, haihai, app_id)
        _post(http, kintone, "config", {"latency_ms": args.latency_ms})
        _post(
            http,
            haihai,
            "config",
            {"latency_ms": args.haihai_latency_ms, "daily_limit": 1_000_000},
        )
        first, second = _run_twice(http, kintone, haihai, env, connector_id, logs, sandboxes)
        n = args.records
        call_budget = math.ceil(n / 500) + math.ceil(n / 2000) + 3
        peak = peak_rss_mb(children=True)
        ok = {
            "succeeded": first["status"] == second["status"] == "succeeded",
            "counts": first["processed"] == first["total"] == n,
            "seconds": first["sync_seconds"] <= TARGET_SECONDS,
            "kintone_calls": first["kintone_calls"] <= call_budget,
            "second_run_writes": second["kintone_writes"] == 0,
            "second_run_seconds": second["sync_seconds"] <= TARGET_SECOND_RUN_SECONDS,
            "memory": peak <= TARGET_MEMORY_MB,
        }
        print(
            f"first run {first['sync_seconds']} s (target ≤ {TARGET_SECONDS} s), "
            f"{first['kintone_calls']} kintone calls (budget {call_budget}); second run "
            f"{second['sync_seconds']} s with {second['kintone_writes']} kintone writes; "
            f"worker peak {peak} MB; {'OK' if all(ok.values()) else 'MISSED'}"
        )
        print_result(
            {
                "name": "stop_ban_sync",
                "records": n,
                "latency_ms": args.latency_ms,
                "haihai_latency_ms": args.haihai_latency_ms,
                "seconds": first["sync_seconds"],
                "second_run_seconds": second["sync_seconds"],
                "changed": _changed(first["detail"]),
                "calls": {
                    "kintone": first["kintone_calls"],
                    "kintone_reads": first["kintone_reads"],
                    "kintone_writes": first["kintone_writes"],
                    "kintone_budget": call_budget,
                    "haihai": first["haihai_calls"],
                    "second_run_kintone": second["kintone_calls"],
                    "second_run_kintone_writes": second["kintone_writes"],
                    "second_run_haihai": second["haihai_calls"],
                },
                "peak_rss_mb": peak,
                "cpu_seconds": {
                    "worker": first["worker_cpu_seconds"],
                    "kintone_sandbox": first["kintone_sandbox_cpu_seconds"],
                    "haihai_sandbox": first["haihai_sandbox_cpu_seconds"],
                    "second_run_worker": second["worker_cpu_seconds"],
                    "second_run_kintone_sandbox": second["kintone_sandbox_cpu_seconds"],
                },
                "load_average": [first["load_average"], second["load_average"]],
                "targets_met": ok,
                "ok": all(ok.values()),
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
