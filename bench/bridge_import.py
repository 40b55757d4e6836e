"""Bridgeフォーム連携 benchmark: N form answers of today imported by a real worker (差分, first run).

Starts both sandboxes as separate processes, creates a Bridge account with three forms and
`--records` answers of today (set-up, not timed) and a Bridge app with the fixed fields, stores
the connector's settings (フォーム選択 すべて) in a fresh SQLite database, sets the latencies
(`--latency-ms` for kintone, `--haihai-latency-ms` for 配配メール), then presses 「実行する」
twice: the first run imports every answer from 00:00, the second finds nothing new.

    .venv/bin/python -m bench.bridge_import --records 3500 --latency-ms 100 --haihai-latency-ms 300
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from bench.common import peak_rss_mb, print_result, standard_parser
from bench.event_import_common import ACCOUNT, LOGIN_ID, SUB, TOKEN, Bench, admin, diff_calls

TARGET_SECONDS = 3
TOKYO = ZoneInfo("Asia/Tokyo")
FORMS = (
    {"form_id": "1", "form_name": "お問い合わせフォーム", "items": ["会社名", "氏名"]},
    {"form_id": "2", "form_name": "資料ダウンロードフォーム", "items": ["会社名", "氏名"]},
    {"form_id": "3", "form_name": "セミナー申込フォーム", "items": ["会社名", "氏名"]},
)


def _seed(bench: Bench, records: int) -> str:
    from portal.connector_types.haihai_kintone.event_import.fields import BRIDGE_FIELDS

    fields = {f.code: f.properties() for f in BRIDGE_FIELDS}
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
            "items": [
                {"item_id": "I1", "label": "会社名", "type": "text"},
                {"item_id": "I2", "label": "氏名", "type": "text"},
            ],
            "forms": list(FORMS),
            "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
        },
    )
    now = dt.datetime.now(TOKYO)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = max(1.0, (now - start).total_seconds() - 120)
    answers = [
        {
            "form_id": FORMS[i % len(FORMS)]["form_id"],
            "email": f"user{i:05d}@example.jp",
            "answered_at": (start + dt.timedelta(seconds=span * i / records)).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "answers": {"会社名": f"株式会社サンプル{i % 500}", "氏名": f"利用者 {i}"},
        }
        for i in range(records)
    ]
    for first in range(0, len(answers), 1000):
        admin(
            bench.http,
            bench.haihai,
            "answers",
            {"account": ACCOUNT, "answers": answers[first : first + 1000]},
        )
    return str(app)


def _settings(haihai: str, app_id: str):
    def build(session, connector_id: str) -> None:
        from portal.models.event_imports import EventImportSettings
        from portal.models.settings import HAIHAI_METHOD_SYNCED, ConnectorSettings

        session.add(
            ConnectorSettings(
                connector_id=connector_id,
                haihai_url=f"{haihai}/{ACCOUNT}/",
                haihai_login_id=LOGIN_ID,
                haihai_api_token=TOKEN,
                haihai_method=HAIHAI_METHOD_SYNCED,
                haihai_snapshot={
                    "source": f"{haihai}/{ACCOUNT}/",
                    "items": [],
                    "groups": [],
                    "step_plans": [],
                    "forms": [{"id": f["form_id"], "name": f["form_name"]} for f in FORMS],
                    "bridge": True,
                },
                kintone_subdomain=SUB,
            )
        )
        session.add(
            EventImportSettings(
                connector_id=connector_id,
                role="bridge",
                timing="manual",
                app_id=app_id,
                api_token=TOKEN,
                form_mode="all",
            )
        )

    return build


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = standard_parser(__doc__.splitlines()[0], records=3_500, latency_ms=100)
    parser.add_argument("--haihai-latency-ms", type=int, default=300)
    args = parser.parse_args()
    bench = Bench("bench-bridge-")
    try:
        setup_started = time.monotonic()
        app_id = _seed(bench, args.records)
        print(f"set-up: {args.records} answers loaded in {time.monotonic() - setup_started:.1f} s")
        connector_id = bench.configure(_settings(bench.haihai, app_id))
        bench.latency(args.latency_ms, args.haihai_latency_ms)
        results = []
        for n in (1, 2):
            k_before, h_before = bench.kintone_calls(), bench.haihai_calls()
            figures = bench.press_run(connector_id, "bridge", n)
            figures["kintone_calls"] = diff_calls(bench.kintone_calls(), k_before)
            figures["haihai_calls"] = bench.haihai_calls() - h_before
            results.append(figures)
            print(f"run {n}: {figures}")
        first, second = results
        writes = first["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0)
        second_writes = second["kintone_calls"].get("POST /k/v1/bulkRequest.json", 0)
        peak = peak_rss_mb(children=True)
        ok = (
            first["status"] == second["status"] == "succeeded"
            and first["processed"] == first["total"] == args.records
            and first["sync_seconds"] <= TARGET_SECONDS
            and writes <= -(-args.records // 2000)
            and second_writes == 0
            and peak <= 300
        )
        print(
            f"first run {first['sync_seconds']} s (target ≤ {TARGET_SECONDS} s) with {writes} "
            f"bulkRequest calls; second run {second['sync_seconds']} s with {second_writes}; "
            f"worker peak {peak} MB; {'OK' if ok else 'MISSED'}"
        )
        print_result(
            {
                "name": "bridge_import",
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
                "ok": ok,
            }
        )
    finally:
        bench.close()


if __name__ == "__main__":
    main()
