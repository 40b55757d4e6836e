"""配配メール I/O benchmark: import customers as one CSV part, then stream events page by page.

Starts the 配配メール sandbox in this process, imports `--records` customers through
HaihaiClient (CSV built with CsvPartWriter, one part, then wait_for_import), loads `--events`
open/click events through the sandbox admin API (setup, not timed) and reads them all back
with iter_events. Prints figures, then one JSON line (bench.common.print_result).

    .venv/bin/python -m bench.haihai_io --records 100000 --events 1000000 --latency-ms 0
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

import requests

from bench.common import peak_rss_mb, print_result, standard_parser
from portal.integrations.haihai import (
    JST,
    EventKind,
    HaihaiClient,
    ImportOptions,
)
from portal.integrations.haihai_csv import CsvEncoding, CsvPartWriter
from portal.integrations.retrying import RetryPolicy
from sandbox.haihai import create_app
from sandbox.serve import serve_in_thread

ACCOUNT = "m90001"
LOGIN_ID = "bench"
TOKEN = "bench-token"
HEADERS = ["メールアドレス", "氏名", "ふりがな", "都道府県", "関心", "誕生日"]
PREFECTURES = ["東京都", "大阪府", "愛知県", "福岡県"]
EVENT_BATCH = 100_000
FIRST_EVENT = dt.datetime(2025, 1, 1, tzinfo=JST)


def current_rss_mb() -> float:
    """Resident memory right now (Linux /proc), to show that reading does not accumulate."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def setup_account(admin: requests.Session, base: str, latency_ms: int) -> None:
    """Create the benchmark account with a few typed items and one group."""
    account = {
        "account_key": ACCOUNT,
        "plan": "bridge",
        "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
        "items": [
            {"label": "氏名", "type": "text"},
            {"label": "ふりがな", "type": "text", "input_rule": "hiragana"},
            {"label": "都道府県", "type": "select", "options": PREFECTURES},
            {"label": "関心", "type": "checkbox", "options": ["料金", "事例", "セミナー"]},
            {"label": "誕生日", "type": "date"},
        ],
        "groups": [{"gid": "1", "name": "メルマガ"}],
    }
    admin.post(f"{base}/_sandbox/reset", json={"empty": True}, timeout=60).raise_for_status()
    admin.post(f"{base}/_sandbox/accounts", json=account, timeout=60).raise_for_status()
    config = {"latency_ms": latency_ms, "event_lag_seconds": 0, "import_chunk_rows": 5000}
    admin.post(f"{base}/_sandbox/config", json=config, timeout=60).raise_for_status()


def build_csv(records: int) -> tuple[bytes, float]:
    """One CSV part for `records` customers; returns the bytes and the seconds it took."""
    started = time.perf_counter()
    writer = CsvPartWriter(HEADERS, CsvEncoding.UTF8)
    for i in range(records):
        part = writer.add_row(
            [
                f"user{i:07d}@example.jp",
                f"利用者 {i}",
                "はいはい",
                PREFECTURES[i % 4],
                "料金,事例" if i % 3 == 0 else "",
                f"19{60 + i % 40}/0{1 + i % 9}/1{i % 9}",
            ]
        )
        if part is not None:
            raise SystemExit("the benchmark CSV does not fit into one 15 MB part")
    last = writer.finish()
    assert last is not None
    return last.data, time.perf_counter() - started


def load_events(admin: requests.Session, base: str, events: int, customers: int) -> float:
    """Insert `events` open/click events through the admin API; returns the seconds taken."""
    started = time.perf_counter()
    for first in range(0, events, EVENT_BATCH):
        batch = []
        for n in range(first, min(events, first + EVENT_BATCH)):
            kind = "click" if n % 10 < 3 else "open"
            moment = FIRST_EVENT + dt.timedelta(seconds=n * 2)
            event = {
                "action_type": kind,
                "email": f"user{n % max(1, customers):07d}@example.jp",
                "occurred_at": moment.strftime("%Y-%m-%d %H:%M:%S"),
                "mail_id": str(1 + n % 20),
                "mail_type": "group",
                "subject": "2025年1月号",
            }
            if kind == "click":
                event["url"] = f"https://example.jp/lp/{n % 50}"
            batch.append(event)
        body = json.dumps({"account": ACCOUNT, "events": batch}, ensure_ascii=False)
        response = admin.post(
            f"{base}/_sandbox/events",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=600,
        )
        response.raise_for_status()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is the JSON result."""
    parser = standard_parser(__doc__.splitlines()[0], records=100_000, latency_ms=0)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    app = create_app()
    running = serve_in_thread(app)
    admin = requests.Session()
    try:
        setup_account(admin, running.url, args.latency_ms)
        data, csv_seconds = build_csv(args.records)
        client = HaihaiClient(
            f"{running.url}/{ACCOUNT}/",
            LOGIN_ID,
            TOKEN,
            allow_local=True,
            timeout=120,
            retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=5),
        )
        with client:
            started = time.perf_counter()
            job_id = client.import_csv(data, ImportOptions(group_id="1"))
            upload_seconds = time.perf_counter() - started
            # The sandbox processes far faster than the vendor's queue, so poll every second
            # instead of the production default (first poll after ~rows/5000 s).
            result = client.wait_for_import(job_id, first_poll=1.0, min_interval=1.0)
            import_seconds = time.perf_counter() - started
            if result.inserted != args.records or result.failed:
                raise SystemExit(f"import incomplete: {result}")

            load_seconds = load_events(admin, running.url, args.events, args.records)
            until = FIRST_EVENT + dt.timedelta(seconds=2 * args.events + 1)
            rss_before_read = current_rss_mb()
            started = time.perf_counter()
            read = {EventKind.OPEN: 0, EventKind.CLICK: 0}
            # The sandbox numbers events 1..N; their sum proves none is lost or doubled without
            # holding a million ids in memory (which would blur the RSS figure).
            id_sum = 0
            for kind in read:
                for event in client.iter_events(kind, FIRST_EVENT, until):
                    read[kind] += 1
                    id_sum += int(event.event_id)
            read_seconds = time.perf_counter() - started
            rss_after_read = current_rss_mb()
            total_read = sum(read.values())
            if total_read != args.events or id_sum != args.events * (args.events + 1) // 2:
                raise SystemExit(f"read {total_read} events, id sum {id_sum}")

        stats = admin.get(f"{running.url}/_sandbox/stats?account={ACCOUNT}", timeout=60).json()
        calls = stats["calls"]
        haihai_calls = stats["total_calls"]
        polls = calls.get("GetImportResult", 0)
        print(f"customers imported      : {args.records:,} (one part, {len(data):,} bytes)")
        print(f"  CSV build             : {csv_seconds:.2f} s")
        print(f"  upload (1 call)       : {upload_seconds:.2f} s")
        print(f"  upload + processing   : {import_seconds:.2f} s, {polls} status polls")
        print(f"events loaded (setup)   : {args.events:,} in {load_seconds:.1f} s")
        print(
            f"events read             : {total_read:,} in {read_seconds:.2f} s "
            f"({total_read / read_seconds:,.0f}/s), "
            f"{calls.get('GetOpenLog', 0) + calls.get('GetClickLog', 0)} calls"
        )
        print(f"RSS before/after read   : {rss_before_read} / {rss_after_read} MB")
        print(f"API calls by action     : {json.dumps(calls, sort_keys=True)}")
        print_result(
            {
                "name": "haihai_io",
                "records": args.records + total_read,
                "seconds": round(import_seconds + read_seconds, 2),
                "calls": {"haihai": haihai_calls},
                "peak_rss_mb": peak_rss_mb(),
                "customers": args.records,
                "events": total_read,
                "csv_bytes": len(data),
                "import_seconds": round(import_seconds, 2),
                "read_seconds": round(read_seconds, 2),
                "events_per_second": round(total_read / read_seconds),
                "latency_ms": args.latency_ms,
            }
        )
    finally:
        admin.close()
        running.stop()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
