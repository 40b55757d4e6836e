"""Fleet benchmark: many 顧客情報連携 at the same minute, run by the scheduler and N workers.

Sets up `--accounts` accounts (default 5) with `--connectors` connectors each (default 4, so 20
connectors), each reading its own kintone app of `--records` records (default 50,000; the apps
of one account share its kintone domain) into its own 配配メール account. Every connector's
顧客情報連携 1 is scheduled (毎日, one minute) for the same slot; then the real processes run it:
one `flask jobs scheduler` and `--workers` `flask jobs worker` processes (default: a round with
2, then a round with 4), against a PostgreSQL database of its own and a redis-server of its own
on a free port. The connector settings go through the portal's own code (Step2/3 syncs against
the sandboxes, mapping rows, Step5 setting, schedule).

Per round it reports the wall time from the slot to the last run's end, runs per minute, the
time from slot to start (p50/p95/max), and checks: every run succeeded exactly once (one run
row per connector for the slot, one 配配メール import per account, every customer there), no
exclusion lock is left in Redis, and no kintone domain ever had more requests in flight than
its limit (the sandbox's per-domain peak; 429 GAIA_TO04 refusals must be 0). Last line: JSON.

    .venv/bin/python -m bench.fleet                         # rounds with 2 and 4 workers
    .venv/bin/python -m bench.fleet --workers 4 --records 5000
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
import requests
import sqlalchemy as sa

from bench.common import peak_rss_mb, print_result, standard_parser
from bench.customer_sync import HAIHAI_ITEMS, KINTONE_FIELDS, LOAD_BATCH, record, start_sandbox
from sandbox.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
TOKYO = ZoneInfo("Asia/Tokyo")
LOGIN_ID = "fleet"
# The 配配メール items carry the kintone labels, so Step4's 「追加」 pre-selects each of them.
FLEET_ITEMS = [
    {**item, "label": KINTONE_FIELDS[code]["label"]} for code, item in HAIHAI_ITEMS.items()
]


def _post(http: requests.Session, base: str, path: str, body: dict) -> dict:
    response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=600)
    response.raise_for_status()
    return response.json()


def _seed_sandboxes(http, kintone: str, haihai: str, args) -> list[dict]:
    """One kintone app + token and one 配配メール account per connector; returns their access."""
    targets = []
    for a in range(1, args.accounts + 1):
        subdomain = f"fleet{a}"
        for c in range(1, args.connectors + 1):
            app = _post(http, kintone, "apps", {"subdomain": subdomain, "fields": KINTONE_FIELDS})[
                "app"
            ]
            token = _post(
                http,
                kintone,
                "tokens",
                {"subdomain": subdomain, "app": app, "permissions": ["view"]},
            )["token"]
            offset = (a * 100 + c) * 1_000_000
            for start in range(0, args.records, LOAD_BATCH):
                rows = [
                    record(offset + i) for i in range(start, min(args.records, start + LOAD_BATCH))
                ]
                _post(
                    http, kintone, "records", {"subdomain": subdomain, "app": app, "records": rows}
                )
            account_key = f"m{a:02d}{c:03d}"
            _post(
                http,
                haihai,
                "accounts",
                {
                    "account_key": account_key,
                    "users": [
                        {
                            "login_id": LOGIN_ID,
                            "email": "fleet@example.jp",
                            "api_token": f"t-{account_key}",
                        }
                    ],
                    "items": FLEET_ITEMS,
                    "groups": [{"gid": "1", "name": "メルマガ"}],
                    "max_items": 30,
                },
            )
            targets.append(
                {
                    "account": a,
                    "subdomain": subdomain,
                    "app": str(app),
                    "token": token,
                    "haihai_account": account_key,
                    "haihai_token": f"t-{account_key}",
                }
            )
        print(
            f"  seeded account {a}: {args.connectors} apps × {args.records:,} records", flush=True
        )
    return targets


def _configure_connectors(app, haihai: str, targets: list[dict]) -> list[str]:
    """Accounts and connectors through the portal's settings code; returns connector ids."""
    from werkzeug.datastructures import MultiDict

    from portal.db import session_scope
    from portal.models import Account, Connector
    from portal.models.customer_syncs import CustomerSyncRow
    from portal.models.settings import HAIHAI_METHOD_SYNCED
    from portal.settings import service, syncing
    from portal.settings.mapping import add_row
    from portal.settings.mapping_step import replace_mapping_rows

    connector_ids = []
    with app.app_context(), session_scope() as session:
        accounts = {}
        for target in targets:
            if target["account"] not in accounts:
                account = Account(
                    connector_id=f"FLEET{target['account']:02d}",
                    email=f"fleet{target['account']}@example.jp",
                    password_hash="x",
                    must_change_password=False,
                )
                session.add(account)
                session.flush()
                accounts[target["account"]] = account.id
            connector = Connector(
                account_id=accounts[target["account"]],
                name=f"顧客リスト {target['haihai_account']}",
            )
            session.add(connector)
            session.flush()
            ctx = service.make_context(session, connector, app.config)
            form = MultiDict(
                {
                    "haihai_url": f"{haihai}/{target['haihai_account']}/",
                    "haihai_login_id": LOGIN_ID,
                    "haihai_api_token": target["haihai_token"],
                    "kintone_subdomain": target["subdomain"],
                    "kintone_app_id": target["app"],
                    "kintone_api_token": target["token"],
                }
            )
            settings = ctx.settings
            settings.haihai_method = HAIHAI_METHOD_SYNCED
            session.add(settings)
            syncing.sync_haihai(ctx, form)
            syncing.sync_kintone(ctx, form)
            rows = add_row(
                [],
                "mail",
                ctx.kintone_fields,
                method=HAIHAI_METHOD_SYNCED,
                snapshot=ctx.haihai_snapshot,
            )
            for code in HAIHAI_ITEMS:
                rows = add_row(
                    rows,
                    code,
                    ctx.kintone_fields,
                    method=HAIHAI_METHOD_SYNCED,
                    snapshot=ctx.haihai_snapshot,
                )
            replace_mapping_rows(ctx, rows)
            session.add(
                CustomerSyncRow(
                    connector_id=connector.id,
                    number=1,
                    timing="schedule",
                    target_type="group",
                    target_id="1",
                    target_name="メルマガ",
                    mode="register",
                    overwrite=True,
                )
            )
            session.commit()
            connector_ids.append(connector.id)
    return connector_ids


def _schedule_all(app, connector_ids: list[str], slot: dt.datetime) -> None:
    """Every connector's 顧客情報連携 1: 毎日 at the slot's Tokyo hour and minute."""
    from portal.db import session_scope
    from portal.runs.service import replace_schedules
    from portal.syncs.config import ScheduleSpec

    local = slot.astimezone(TOKYO)
    spec = ScheduleSpec(interval="daily", hours=(local.hour,), minutes=(local.minute,))
    with app.app_context(), session_scope() as session:
        for connector_id in connector_ids:
            replace_schedules(session, connector_id, {"customer:1": spec})


def _start(env: dict, logs: Path, name: str, *args: str) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [FLASK, "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return process


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _runs_of_slot(engine, slot: dt.datetime) -> list:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT connector_id, status, processed, total, scheduled_slot, started_at,"
                " finished_at, error_detail FROM runs WHERE scheduled_slot = :slot"
            ),
            {"slot": slot},
        ).all()


def _round(workers: int, context: dict, args) -> dict:
    """One round: schedule every connector for the next free minute, run, measure, check."""
    app, engine, http, env, logs = (context[k] for k in ("app", "engine", "http", "env", "logs"))
    kintone, haihai, conn = context["kintone"], context["haihai"], context["redis"]
    now = dt.datetime.now(dt.UTC)
    slot = (now + dt.timedelta(seconds=75)).replace(second=0, microsecond=0)
    _schedule_all(app, context["connectors"], slot)
    _post(http, kintone, "stats/reset", {})
    imports_before = _haihai_imports(http, haihai, context["targets"])
    processes = [_start(env, logs, f"scheduler-{workers}", "jobs", "scheduler")]
    processes += [
        _start(
            env, logs, f"worker-{workers}-{n}", "jobs", "worker", "--name", f"fleet-{workers}-{n}"
        )
        for n in range(1, workers + 1)
    ]
    print(f"[{workers} workers] slot {slot.astimezone(TOKYO):%H:%M} (Tokyo); waiting …", flush=True)
    deadline = time.monotonic() + (slot - now).total_seconds() + args.timeout
    try:
        while True:
            rows = _runs_of_slot(engine, slot)
            done = [r for r in rows if r.status in ("succeeded", "failed")]
            if len(done) == len(context["connectors"]) or time.monotonic() > deadline:
                break
            time.sleep(2)
        queue_left = conn.llen("rq:queue:default")
    finally:
        _stop(processes)
    rows = _runs_of_slot(engine, slot)
    return _figures(workers, slot, rows, context, imports_before, queue_left)


def _haihai_imports(http, haihai: str, targets: list[dict]) -> dict[str, int]:
    stats = http.get(f"{haihai}/_sandbox/stats", timeout=60).json()["accounts"]
    return {
        t["haihai_account"]: stats[t["haihai_account"]]["calls"].get("ScheduleCsvImport", 0)
        for t in targets
    }


def _figures(
    workers: int, slot, rows, context: dict, imports_before: dict, queue_left: int
) -> dict:
    http, haihai, kintone, conn = (context[k] for k in ("http", "haihai", "kintone", "redis"))
    waits = sorted((r.started_at - slot).total_seconds() for r in rows if r.started_at)
    ends = [r.finished_at for r in rows if r.finished_at]
    wall = (max(ends) - slot).total_seconds() if ends else None
    per_connector = {c: 0 for c in context["connectors"]}
    for r in rows:
        per_connector[r.connector_id] = per_connector.get(r.connector_id, 0) + 1
    imports_after = _haihai_imports(http, haihai, context["targets"])
    imports = {k: imports_after[k] - imports_before[k] for k in imports_after}
    customers = {
        t["haihai_account"]: http.get(
            f"{haihai}/_sandbox/customers",
            params={"account": t["haihai_account"], "limit": 0},
            timeout=60,
        ).json()["total"]
        for t in context["targets"]
    }
    kintone_stats = http.get(f"{kintone}/_sandbox/stats", timeout=60).json()
    locks = sorted(key.decode() for key in conn.scan_iter("portal:lock:*"))
    succeeded = [r for r in rows if r.status == "succeeded"]
    failures = [(r.connector_id, r.error_detail) for r in rows if r.status != "succeeded"]
    checks = {
        "every_run_succeeded_exactly_once": len(succeeded) == len(rows) == len(per_connector)
        and set(per_connector.values()) == {1},
        "one_import_per_haihai_account": set(imports.values()) == {1},
        "every_customer_imported": set(customers.values()) == {context["records"]},
        "no_lock_left": not locks,
        "queue_empty": queue_left == 0,
        "kintone_domain_limit_never_exceeded": all(
            v["peak"] <= kintone_stats["concurrency_limit"] and v["rejected"] == 0
            for v in kintone_stats["concurrency"].values()
        ),
    }
    figures = {
        "workers": workers,
        "runs": len(rows),
        "wall_seconds": round(wall, 1) if wall else None,
        "runs_per_minute": round(len(succeeded) / wall * 60, 2) if wall else None,
        "slot_to_start_seconds": {
            "p50": round(statistics.median(waits), 1) if waits else None,
            "p95": round(waits[min(len(waits) - 1, round(0.95 * len(waits)) - 1)], 1)
            if waits
            else None,
            "max": round(waits[-1], 1) if waits else None,
        },
        "run_seconds_p50": round(
            statistics.median((r.finished_at - r.started_at).total_seconds() for r in succeeded), 1
        )
        if succeeded
        else None,
        "kintone_calls": kintone_stats["total"],
        "kintone_peak_in_flight_per_domain": {
            k: v["peak"] for k, v in kintone_stats["concurrency"].items()
        },
        "kintone_rejected_429": sum(v["rejected"] for v in kintone_stats["concurrency"].values()),
        "kintone_domain_limit": kintone_stats["concurrency_limit"],
        "locks_left": locks,
        "failures": failures[:5],
        "checks": checks,
        "ok": all(checks.values()),
    }
    print(f"[{workers} workers] {figures}", flush=True)
    return figures


def _redis_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.RedisError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = standard_parser(__doc__.splitlines()[0], records=50_000, latency_ms=100)
    parser.add_argument("--haihai-latency-ms", type=int, default=300)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--connectors", type=int, default=4, help="connectors per account")
    parser.add_argument(
        "--workers", type=int, action="append", help="a round per value (default 2, 4)"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a round may take")
    args = parser.parse_args()
    rounds = args.workers or [2, 4]
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    logs = folder / "logs"
    logs.mkdir()
    name = f"bench_fleet_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    redis_process, redis_url = _redis_server(folder)
    kintone_process, kintone = start_sandbox("kintone")
    haihai_process, haihai = start_sandbox("haihai")
    http = requests.Session()
    results = []
    try:
        from portal import create_app, migrate

        migrate.upgrade(database_url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))},
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORTAL_INSTANCE_PATH": str(folder / "instance"),
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "SECRET_KEY": "bench-fleet",
            "KINTONE_BASE_URL_TEMPLATE": kintone + "/{subdomain}",
            "HAIHAI_ALLOW_LOCAL_URLS": "1",
            "PYTHONPATH": str(ROOT),
        }
        app = create_app(
            {
                "INSTANCE_PATH": str(folder / "instance"),
                "SECRET_KEY": "bench-fleet",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "PORTAL_SECRET_KEY": FERNET_KEY,
                "KINTONE_BASE_URL_TEMPLATE": kintone + "/{subdomain}",
                "HAIHAI_ALLOW_LOCAL_URLS": True,
            }
        )
        print(
            f"seeding {args.accounts * args.connectors} connectors × {args.records:,} records …",
            flush=True,
        )
        seeding = time.monotonic()
        targets = _seed_sandboxes(http, kintone, haihai, args)
        connectors = _configure_connectors(app, haihai, targets)
        _post(http, kintone, "config", {"latency_ms": args.latency_ms})
        _post(
            http,
            haihai,
            "config",
            {"latency_ms": args.haihai_latency_ms, "import_chunk_rows": 10_000},
        )
        print(f"seeded in {time.monotonic() - seeding:.0f} s", flush=True)
        context = {
            "app": app,
            "engine": sa.create_engine(database_url),
            "http": http,
            "env": env,
            "logs": logs,
            "kintone": kintone,
            "haihai": haihai,
            "redis": redis.Redis.from_url(redis_url),
            "connectors": connectors,
            "targets": targets,
            "records": args.records,
        }
        for workers in rounds:
            results.append(_round(workers, context, args))
        context["engine"].dispose()
        app.extensions["db_engine"].dispose()
    finally:
        http.close()
        for process in (kintone_process, haihai_process, redis_process):
            process.terminate()
            process.wait(timeout=30)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"process logs: {logs}", flush=True)
    print_result(
        {
            "name": "fleet",
            "records": args.records * args.accounts * args.connectors,
            "records_per_connector": args.records,
            "connectors": args.accounts * args.connectors,
            "accounts": args.accounts,
            "latency_ms": args.latency_ms,
            "haihai_latency_ms": args.haihai_latency_ms,
            "seconds": round(time.monotonic() - started, 1),
            "calls": {"kintone": sum(r["kintone_calls"] for r in results)},
            "peak_rss_mb": peak_rss_mb(),
            "load_average": os.getloadavg(),
            "rounds": results,
            "ok": all(r["ok"] for r in results),
        }
    )


if __name__ == "__main__":
    main()
