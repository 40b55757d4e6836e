"""顧客反応履歴情報取込連携 benchmark: N events of today imported by a real worker (差分, first run).

Starts both sandboxes as separate processes, loads `--records` events of today into the
配配メール account (opens, clicks, visits, CVs and downloads; set-up, not timed) and a reaction app
with the fixed fields into kintone, stores the connector's settings in a fresh SQLite database,
sets the latencies (`--latency-ms` for kintone, `--haihai-latency-ms` for 配配メール), then
presses 「実行する」 twice (create_run + one `flask jobs worker --burst` each). The first run
imports everything from 00:00; the second finds nothing new and must not write to kintone.
Reports the run time from the run row, calls on each side and the worker's peak memory.

    .venv/bin/python -m bench.reaction_import --records 110000 --latency-ms 100 --haihai-latency-ms 300
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from bench.common import peak_rss_mb, print_result, standard_parser
from bench.event_import_common import ACCOUNT, LOGIN_ID, SUB, TOKEN, Bench, admin, diff_calls

TARGET_SECONDS = 30
TOKYO = ZoneInfo("Asia/Tokyo")
# Share of each 連携種別 among the events (opens dominate, as in real mailings).
MIX = (("open", 0.55), ("click", 0.25), ("visit", 0.1), ("cv", 0.05), ("download", 0.05))


def _event(kind: str, i: int, at: dt.datetime) -> dict:
    body = {
        "action_type": kind,
        "email": f"user{i % 40000:05d}@example.jp",
        "occurred_at": at.strftime("%Y-%m-%d %H:%M:%S"),
        "mail_id": str(1 + i % 12),
        "mail_type": "group",
        "subject": f"【製品ニュース】{1 + i % 12}月号",
    }
    if kind == "click":
        body["url"] = f"https://www.example.jp/articles/{i % 300}"
    elif kind in ("visit", "cv"):
        body.update(mail_id=None, mail_type=None, tag_name=f"{kind}-{i % 7}")
    elif kind == "download":
        body.update(mail_id=None, mail_type=None, file_name=f"資料{i % 9}.pdf")
    return body


def _seed(bench: Bench, records: int) -> str:
    from portal.connector_types.haihai_kintone.event_import.fields import REACTION_FIELDS

    fields = {f.code: f.properties() for f in REACTION_FIELDS}
    app = admin(bench.http, bench.kintone, "apps", {"subdomain": SUB, "fields": fields})["app"]
    admin(
        bench.http,
        bench.kintone,
        "tokens",
        {"subdomain": SUB, "app": app, "token": TOKEN, "permissions": ["view", "add"]},
    )
    admin(
        bench.http,
        bench.haihai,
        "accounts",
        {
            "account_key": ACCOUNT,
            "plan": "bridge",
            "dedicated_server": True,
            "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
        },
    )
    admin(bench.http, bench.haihai, "config", {"event_lag_seconds": 0})
    now = dt.datetime.now(TOKYO)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = max(1.0, (now - start).total_seconds() - 120)
    events = []
    counts = {kind: int(records * share) for kind, share in MIX}
    counts["open"] += records - sum(counts.values())
    i = 0
    for kind, count in counts.items():
        for n in range(count):
            events.append(_event(kind, i, start + dt.timedelta(seconds=span * n / count)))
            i += 1
    for first in range(0, len(events), 10_000):
        admin(
            bench.http,
            bench.haihai,
            "events",
            {"account": ACCOUNT, "events": events[first : first + 10_000]},
        )
    return str(app)


def _settings(haihai: str, app_id: str):
    def build(session, connector_id: str) -> None:
        from portal.models.event_imports import EventImportSettings
        from portal.models.settings import ConnectorSettings

        session.add(
            ConnectorSettings(
                connector_id=connector_id,
                haihai_url=f"{haihai}/{ACCOUNT}/",
                haihai_login_id=LOGIN_ID,
                haihai_api_token=TOKEN,
                kintone_subdomain=SUB,
            )
        )
        session.add(
            EventImportSettings(
                connector_id=connector_id,
                role="reaction",
                timing="manual",
                app_id=app_id,
                api_token=TOKEN,
                event_types=[kind for kind, _share in MIX],
            )
        )

    return build


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = standard_parser(__doc__.splitlines()[0], records=110_000, latency_ms=100)
    parser.add_argument("--haihai-latency-ms", type=int, default=300)
    args = parser.parse_args()
    bench = Bench("bench-reaction-")
    try:
        setup_started = time.monotonic()
        app_id = _seed(bench, args.records)
        print(f"set-up: {args.records} events loaded in {time.monotonic() - setup_started:.1f} s")
        connector_id = bench.configure(_settings(bench.haihai, app_id))
        bench.latency(args.latency_ms, args.haihai_latency_ms)
        results = []
        for n in (1, 2):
            k_before, h_before = bench.kintone_calls(), bench.haihai_calls()
            figures = bench.press_run(connector_id, "reaction", n)
            figures["kintone_calls"] = diff_calls(bench.kintone_calls(), k_before)
            figures["haihai_calls"] = bench.haihai_calls() - h_before
            results.append(figures)
            print(f"run {n}: {figures}")
        first, second = results
        writes = first["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0)
        second_writes = second["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0)
        ok = (
            first["status"] == second["status"] == "succeeded"
            and first["processed"] == first["total"] == args.records
            and first["sync_seconds"] <= TARGET_SECONDS
            and writes <= -(-args.records // 2000)
            and second_writes == 0
            and (second["processed"], second["total"]) == (0, 0)
        )
        peak = peak_rss_mb(children=True)
        print(
            f"first run {first['sync_seconds']} s (target ≤ {TARGET_SECONDS} s) with {writes} "
            f"bulkRequest calls; second run {second['sync_seconds']} s with {second_writes}; "
            f"worker peak {peak} MB; {'OK' if ok and peak <= 300 else 'MISSED'}"
        )
        print_result(
            {
                "name": "reaction_import",
                "records": args.records,
                "latency_ms": args.latency_ms,
                "haihai_latency_ms": args.haihai_latency_ms,
                "seconds": first["sync_seconds"],
                "second_run_seconds": second["sync_seconds"],
                "calls": {
                    "kintone": sum(first["kintone_calls"].values()),
                    "kintone_writes": writes,
                    "haihai": first["haihai_calls"],
                    "second_run_kintone": sum(second["kintone_calls"].values()),
                    "second_run_kintone_writes": second_writes,
                    "second_run_haihai": second["haihai_calls"],
                },
                "peak_rss_mb": peak,
                "target_seconds": TARGET_SECONDS,
                "ok": ok and peak <= 300,
            }
        )
    finally:
        bench.close()


if __name__ == "__main__":
    main()
