"""連携ログ benchmark: a million runs over a hundred accounts, pages timed through the app.

Seeds `--records` runs (default 1,000,000) spread evenly over `--accounts` accounts (default
100, three connectors each) and over the last `--days` days (default 500), on SQLite and/or
PostgreSQL (a database of its own, dropped at the end). Then, through the Flask app (test
client, signed in; login check, query and template included), it times `--samples` requests
of each kind on random accounts:

- first:      the first page (5 rows), as the コネクター一覧 loads it
- any:        a page at a random depth, by the key the pager's 「>」 link carries
- prev:       the page above a random depth, by the key of 「<」
- rows50:     a random page of 50 rows (「1ページ当たりの件数」 50)
- connector:  the first page of one connector (the 実行 page's log)
- by_number:  a page named only by its number (a typed link: one index-only OFFSET)

and reports p50/p95/max in ms. Finally it purges the runs older than `--retention-days`
(default 400) with the production purge while another thread inserts a run every 20 ms, and
reports the purge's figures and the writer's longest wait. Last line: JSON (bench.common).

    .venv/bin/python -m bench.run_log                          # both databases
    .venv/bin/python -m bench.run_log --database sqlite --records 100000
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import peak_rss_mb, print_result, standard_parser

FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_MS = 25.0
PROCESSES = ["customer:1", "customer:2", "customer:3", "view_url", "stop_ban", "reaction"]
BUSY = "他の処理が実行されています。時間を置いて再度実行してください。"
DETAIL = "メール開封\n連携されたデータ: 2023-06-07 17:41:36 ~ 2023-06-07 20:21:04"


def _run_rows(account_ids, connectors, runs: int, days: int, seed: int):
    """Yield run rows (dicts), evenly over accounts, created over the last `days` days."""
    from ulid import ULID

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    span = days * 86400
    for n in range(runs):
        account = account_ids[n % len(account_ids)]
        created = now - dt.timedelta(seconds=span * (1 - (n + 1) / runs) + rng.random())
        started = created + dt.timedelta(seconds=1)
        kind = rng.random()
        total = rng.randint(0, 50_000)
        yield {
            "id": str(ULID.from_datetime(created)),
            "connector_id": rng.choice(connectors[account]),
            "account_id": account,
            "process_key": rng.choice(PROCESSES),
            "trigger": "schedule",
            "status": "failed" if kind < 0.05 else "succeeded",
            "processed": total,
            "total": total,
            "progress": 1.0,
            "params": {},
            "created_at": created,
            "started_at": started,
            "finished_at": started + dt.timedelta(seconds=rng.randint(1, 600)),
            "error_detail": BUSY if kind < 0.05 else None,
            "message_detail": DETAIL if 0.05 <= kind < 0.15 else None,
            "error_code": "busy" if kind < 0.05 else None,
        }


def _bulk_insert_runs(engine, rows) -> None:
    """Insert run rows fast: COPY on PostgreSQL, one executemany per batch on SQLite.

    Values are written the way the portal's column types store them (UTC; on SQLite the naive
    "YYYY-MM-DD HH:MM:SS.ffffff" text of SQLAlchemy's DateTime), so the app reads them back.
    """
    columns = list(_RUN_COLUMNS)
    names = ", ".join(columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY runs ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_pg_value(row[c]) for c in columns])
        else:
            marks = ", ".join("?" for _ in columns)
            batch = []
            for row in rows:
                batch.append([_sqlite_value(row[c]) for c in columns])
                if len(batch) == 50_000:
                    cursor.executemany(f"INSERT INTO runs ({names}) VALUES ({marks})", batch)
                    batch = []
            if batch:
                cursor.executemany(f"INSERT INTO runs ({names}) VALUES ({marks})", batch)
        raw.commit()
    finally:
        raw.close()


_RUN_COLUMNS = [
    "id",
    "connector_id",
    "account_id",
    "process_key",
    "trigger",
    "status",
    "processed",
    "total",
    "progress",
    "params",
    "created_at",
    "started_at",
    "finished_at",
    "error_detail",
    "message_detail",
    "error_code",
]


def _pg_value(value):
    return json.dumps(value) if isinstance(value, dict) else value


def _sqlite_value(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return json.dumps(value) if isinstance(value, dict) else value


def _seed(url: str, runs: int, accounts: int, days: int) -> dict:
    """Accounts, connectors and runs; returns {account id: [connector ids]} and timings."""
    from portal.models import Account, Connector, new_ulid

    engine = sa.create_engine(url)
    started = time.monotonic()
    connectors: dict[int, list[str]] = {}
    with engine.begin() as connection:
        for n in range(accounts):
            account_id = connection.execute(
                sa.insert(Account.__table__).returning(Account.__table__.c.id),
                {
                    "connector_id": f"BENCH{n:03d}",
                    "email": f"bench{n}@example.jp",
                    "password_hash": "x",
                    "must_change_password": False,
                    "disabled": False,
                    "timezone": "Asia/Tokyo",
                    "session_version": 1,
                    "created_at": dt.datetime.now(dt.UTC),
                },
            ).scalar_one()
            ids = [new_ulid() for _ in range(3)]
            connection.execute(
                sa.insert(Connector.__table__),
                [
                    {
                        "id": cid,
                        "account_id": account_id,
                        "kind": "haihai_kintone",
                        "name": f"配配メール-kintone連携 {n:03d}-{i}",
                        "created_at": dt.datetime.now(dt.UTC),
                        "updated_at": dt.datetime.now(dt.UTC),
                    }
                    for i, cid in enumerate(ids)
                ],
            )
            connectors[account_id] = ids
    rows = _run_rows(list(connectors), connectors, runs, days, seed=16)
    _bulk_insert_runs(engine, rows)
    seeded = time.monotonic() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE runs" if "postgresql" in url else "ANALYZE"))
    engine.dispose()
    return {"connectors": connectors, "seed_seconds": round(seeded, 1)}


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


class _Clients:
    """One signed-in test client per account."""

    def __init__(self, app, account_ids) -> None:
        from portal.auth import sessions as login_sessions
        from portal.auth.views import SESSION_TOKEN_KEY
        from portal.db import session_scope
        from portal.models import Account

        def sign_in(client, account) -> None:
            # The session a successful login leaves: Flask-Login identity + its server-side row.
            with app.app_context(), session_scope() as db:
                token = login_sessions.start(db, account.id)
            with client.session_transaction() as session:
                session["_user_id"] = account.get_id()
                session["_fresh"] = True
                session[SESSION_TOKEN_KEY] = token

        self.clients = {}
        self.cpu_ms: list[float] = []
        with app.app_context():
            from portal.db import session_scope

            with session_scope() as session:
                for account_id in account_ids:
                    account = session.get(Account, account_id)
                    client = app.test_client()
                    sign_in(client, account)
                    self.clients[account_id] = client

    def get(self, account_id: int, path: str) -> tuple[float, str]:
        """Wall time of one request in ms (its CPU time goes to self.cpu_ms) and the body."""
        cpu_started = time.thread_time()
        started = time.perf_counter()
        response = self.clients[account_id].get(path, headers={"HX-Request": "true"})
        elapsed = (time.perf_counter() - started) * 1000
        self.cpu_ms.append((time.thread_time() - cpu_started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        return elapsed, response.get_data(as_text=True)


def _key_ids(engine, account_id: int) -> list[str]:
    """The account's run ids, newest first (to pick pages at random depths)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT id FROM runs WHERE account_id = :a ORDER BY created_at DESC, id DESC"
                ),
                {"a": account_id},
            ).scalars()
        )


def _measure(app, url: str, connectors: dict, samples: int) -> dict:
    import re

    clients = _Clients(app, list(connectors))
    engine = sa.create_engine(url)
    rng = random.Random(7)
    ids = {a: _key_ids(engine, a) for a in rng.sample(list(connectors), min(10, len(connectors)))}
    engine.dispose()
    kinds = ("first", "any", "prev", "rows50", "connector", "by_number")
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}

    def timed(kind: str, account: int, path: str) -> str:
        elapsed, body = clients.get(account, path)
        timings[kind].append(elapsed)
        cpu[kind].append(clients.cpu_ms[-1])
        return body

    ranges: dict[str, str] = {}
    for _ in range(10):  # warm up the caches and the template
        clients.get(next(iter(connectors)), "/runs/log")
    for n in range(samples):
        account = rng.choice(list(connectors))
        body = timed("first", account, "/runs/log")
        ranges.setdefault("first", re.search(r'id="run-log-range">([^<]*)<', body).group(1))
        deep_account = rng.choice(list(ids))
        keys = ids[deep_account]
        position = rng.randrange(5, len(keys) - 5) // 5 * 5
        page = position // 5 + 1
        body = timed("any", deep_account, f"/runs/log?page={page}&start={keys[position]}")
        ranges.setdefault("any", re.search(r'id="run-log-range">([^<]*)<', body).group(1))
        timed("prev", deep_account, f"/runs/log?page={page - 1}&after={keys[position]}")
        position50 = rng.randrange(0, len(keys) - 50) // 50 * 50
        body = timed(
            "rows50",
            deep_account,
            f"/runs/log?per_page=50&page={position50 // 50 + 1}&start={keys[position50]}",
        )
        assert body.count('class="run-row"') == 50, "a 50-row page must show 50 rows"
        timed("connector", account, f"/runs/log?connector={rng.choice(connectors[account])}")
        if n % 4 == 0:
            timed("by_number", deep_account, f"/runs/log?page={rng.randint(2, 2000)}")
    pages = {
        kind: {**_percentiles(timings[kind]), "cpu_p95_ms": _percentiles(cpu[kind])["p95_ms"]}
        for kind in kinds
    }
    return {"pages": pages, "examples": ranges, "load_average": os.getloadavg()}


def _purge_with_writer(app, url: str, days: int, connector_id: str) -> dict:
    """Purge expired runs while another thread inserts a run every 20 ms; the writer's waits."""
    from portal.db import engine as app_engine
    from portal.db import session_scope
    from portal.models import Run
    from portal.runs.retention import purge_expired_runs, retention_cutoff

    waits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        with app.app_context():
            while not stop.is_set():
                started = time.perf_counter()
                with session_scope() as session:
                    session.add(Run(connector_id=connector_id, process_key="view_url"))
                waits.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)

    with app.app_context():
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(0.5)
        cutoff = retention_cutoff(dt.datetime.now(dt.UTC), days)
        result = purge_expired_runs(app_engine(), cutoff)
        stop.set()
        thread.join()
    return {
        "deleted": result.deleted,
        "batches": result.batches,
        "seconds": result.seconds,
        "longest_batch_ms": round(result.longest_batch_seconds * 1000, 1),
        "writer_inserts": len(waits),
        "writer_wait_p95_ms": _percentiles(waits)["p95_ms"],
        "writer_wait_max_ms": round(max(waits), 1),
    }


def _connectors_of(url: str) -> dict:
    """{account id: [connector ids]} of a database seeded earlier (--seeded-url)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT account_id, id FROM connectors")).all()
    engine.dispose()
    connectors: dict[int, list[str]] = {}
    for account_id, connector_id in rows:
        connectors.setdefault(account_id, []).append(connector_id)
    return {"connectors": connectors, "seed_seconds": None}


def _bench_database(name: str, url: str, args, instance: str) -> dict:
    from portal import create_app, migrate

    if args.seeded_url:
        seeded = _connectors_of(url)
    else:
        print(f"[{name}] migrating and seeding {args.records:,} runs …", flush=True)
        migrate.upgrade(url)
        seeded = _seed(url, args.records, args.accounts, args.days)
        print(f"[{name}] seeded in {seeded['seed_seconds']} s; measuring …", flush=True)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "PORTAL_SECRET_KEY": FERNET_KEY,
            "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
        }
    )
    measured = _measure(app, url, seeded["connectors"], args.samples)
    for kind, figures in measured["pages"].items():
        print(f"[{name}] {kind:>10}: {json.dumps(figures)}", flush=True)
    first_connector = next(iter(seeded["connectors"].values()))[0]
    purge = None
    if not args.no_purge:
        purge = _purge_with_writer(app, url, args.retention_days, first_connector)
        print(f"[{name}] purge: {json.dumps(purge)}", flush=True)
    app.extensions["db_engine"].dispose()
    return {"seed_seconds": seeded["seed_seconds"], **measured, "purge": purge}


def _postgres_database() -> tuple[str, callable]:
    name = f"bench_run_log_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = standard_parser(__doc__.splitlines()[0], records=1_000_000, latency_ms=0)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=500, help="runs spread over this many days")
    parser.add_argument("--retention-days", type=int, default=400)
    parser.add_argument("--samples", type=int, default=400, help="requests of each kind")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database(s)")
    parser.add_argument("--no-purge", action="store_true", help="skip the purge measurement")
    parser.add_argument(
        "--seeded-url", help="measure a database seeded by an earlier --keep run (no seeding)"
    )
    args = parser.parse_args()  # --latency-ms is accepted like every bench; no I/O to delay here
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-run-log-") as folder:
        if args.seeded_url:
            name = "postgresql" if args.seeded_url.startswith("postgresql") else "sqlite"
            results[name] = _bench_database(name, args.seeded_url, args, folder)
        if not args.seeded_url and args.database in ("sqlite", "both"):
            path = Path(tempfile.mkdtemp(prefix="bench-run-log-db-")) / "runs.sqlite3"
            try:
                results["sqlite"] = _bench_database("sqlite", f"sqlite:///{path}", args, folder)
            finally:
                if args.keep:
                    print(f"[sqlite] kept: sqlite:///{path}", flush=True)
                else:
                    shutil.rmtree(path.parent)
        if not args.seeded_url and args.database in ("postgresql", "both"):
            url, drop = _postgres_database()
            try:
                results["postgresql"] = _bench_database("postgresql", url, args, folder)
            finally:
                if args.keep:
                    print(f"[postgresql] kept: {url}", flush=True)
                else:
                    drop()
    met = {
        f"{db}_{kind}": figures["p95_ms"] <= TARGET_MS
        for db, result in results.items()
        for kind, figures in result["pages"].items()
        if kind in ("first", "any", "rows50")
    }
    print_result(
        {
            "name": "run_log",
            "records": args.records,
            "accounts": args.accounts,
            "seconds": round(time.monotonic() - started, 1),
            "calls": {},
            "peak_rss_mb": peak_rss_mb(),
            "target_p95_ms": TARGET_MS,
            "results": results,
            "targets_met": met,
        }
    )


if __name__ == "__main__":
    main()
