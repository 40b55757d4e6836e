"""顧客情報連携 benchmark: N kintone records with 10 mapped fields → 配配メール, end to end.

Starts both sandboxes as separate processes (so their data does not count towards the sync's
memory), loads `--records` records into a kintone app (setup, not timed), sets the per-call
latency (`--latency-ms` for kintone, `--haihai-latency-ms` for 配配メール), then runs
`run_customer_sync` in a child process and reports its wall time, the calls on each side and
its peak memory. Prints figures, then one JSON line (bench.common.print_result).

    .venv/bin/python -m bench.customer_sync --records 100001 --latency-ms 100 --partitions 4
    .venv/bin/python -m bench.customer_sync --records 1000000 --latency-ms 0 --stop-missing
"""

from __future__ import annotations

import math
import multiprocessing
import os
import subprocess
import sys
import time

import requests

from bench.common import peak_rss_mb, print_result, standard_parser
from portal.integrations.haihai_csv import MAX_PART_BYTES
from sandbox.serve import free_port

SUB = "bench"
ACCOUNT = "m90101"
LOGIN_ID = "bench"
TOKEN = "bench-token"
LOAD_BATCH = 5000
PREFS = ["東京都", "大阪府", "愛知県", "福岡県"]
TARGET_SECONDS = 15.0  # 100,001 records at 100 ms per kintone and 300 ms per 配配メール call

KINTONE_FIELDS = {
    "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
    "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
    "kana": {"type": "SINGLE_LINE_TEXT", "label": "ふりがな"},
    "company": {"type": "SINGLE_LINE_TEXT", "label": "会社名"},
    "url": {"type": "LINK", "label": "URL"},
    "interest": {
        "type": "CHECK_BOX",
        "label": "関心",
        "options": {
            "料金": {"label": "料金", "index": "0"},
            "事例": {"label": "事例", "index": "1"},
            "セミナー": {"label": "セミナー", "index": "2"},
        },
    },
    "pref": {
        "type": "DROP_DOWN",
        "label": "都道府県",
        "options": {p: {"label": p, "index": str(i)} for i, p in enumerate(PREFS)},
    },
    "met": {"type": "DATETIME", "label": "面談日時"},
    "birthday": {"type": "DATE", "label": "誕生日"},
    "score": {"type": "NUMBER", "label": "スコア"},
}
# kintone code → (type, 配配メール item spec)
HAIHAI_ITEMS = {
    "name": {"label": "氏名", "type": "text"},
    "kana": {"label": "ふりがな", "type": "text", "input_rule": "hiragana"},
    "company": {"label": "会社名", "type": "text"},
    "url": {"label": "URL", "type": "text"},
    "interest": {"label": "関心", "type": "checkbox", "options": ["料金", "事例", "セミナー"]},
    "pref": {"label": "都道府県", "type": "select", "options": PREFS},
    "met": {"label": "面談日", "type": "date"},
    "birthday": {"label": "誕生日", "type": "date"},
    "score": {"label": "スコア", "type": "int"},
}


def record(i: int) -> dict:
    """One kintone record in write format."""
    return {
        "mail": {"value": f"user{i:07d}@example.jp"},
        "name": {"value": f"利用者 {i}"},
        "kana": {"value": "りようしゃ"},
        "company": {"value": f"株式会社サンプル{i % 997}"},
        "url": {"value": f"https://example.jp/c/{i}"},
        "interest": {"value": ["料金", "セミナー"] if i % 2 else ["事例"]},
        "pref": {"value": PREFS[i % len(PREFS)]},
        "met": {"value": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T0{i % 10}:30:00Z"},
        "birthday": {"value": f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}"},
        "score": {"value": str(i % 1000)},
    }


def start_sandbox(service: str) -> tuple[subprocess.Popen, str]:
    """Start `python -m sandbox <service>` on a free port; wait until it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", service, "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/_sandbox/config", timeout=1).raise_for_status()
            return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{service} sandbox did not start")


def setup(
    http: requests.Session, kintone: str, haihai: str, records: int, latency: int, h_latency: int
) -> tuple[str, str]:
    """Create the app, its token and records, and the 配配メール account; set the latencies."""

    def post(base: str, path: str, body: dict) -> dict:
        response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=600)
        response.raise_for_status()
        return response.json()

    app = post(kintone, "apps", {"subdomain": SUB, "fields": KINTONE_FIELDS})["app"]
    token = post(kintone, "tokens", {"subdomain": SUB, "app": app, "permissions": ["view"]})[
        "token"
    ]
    for start in range(0, records, LOAD_BATCH):
        batch = [record(i) for i in range(start, min(records, start + LOAD_BATCH))]
        post(kintone, "records", {"subdomain": SUB, "app": app, "records": batch})
    post(
        haihai,
        "accounts",
        {
            "account_key": ACCOUNT,
            "users": [{"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}],
            "items": list(HAIHAI_ITEMS.values()),
            "groups": [{"gid": "1", "name": "メルマガ"}],
            "max_items": 30,
        },
    )
    post(kintone, "stats/reset", {})
    post(kintone, "config", {"latency_ms": latency})
    post(haihai, "config", {"latency_ms": h_latency, "import_chunk_rows": 10_000})
    return app, token


class PhaseClock:
    """Wall-clock marks of the sync's phases, taken around the clients' calls (bench only)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.last_page = 0.0  # last kintone record page answered
        self.upload = 0.0  # seconds in CSV uploads
        self.upload_start: float | None = None
        self.wait = 0.0  # seconds waiting for import results (sleeps + polls)

    def around_pages(self, client) -> None:
        fetch = client.get_records

        def timed(*args, **kwargs):
            answer = fetch(*args, **kwargs)
            self.last_page = max(self.last_page, time.perf_counter())
            return answer

        client.get_records = timed

    def around_imports(self, client) -> None:
        upload, wait = client.import_csv, client.wait_for_import

        def timed_upload(*args, **kwargs):
            begun = time.perf_counter()
            if self.upload_start is None:
                self.upload_start = begun
            try:
                return upload(*args, **kwargs)
            finally:
                self.upload += time.perf_counter() - begun

        def timed_wait(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return wait(*args, **kwargs)
            finally:
                self.wait += time.perf_counter() - begun

        client.import_csv, client.wait_for_import = timed_upload, timed_wait

    def figures(self) -> dict:
        read = self.last_page - self.started
        csv_tail = (self.upload_start or self.last_page) - self.last_page
        return {
            "kintone_read": round(read, 2),
            "csv_after_read": round(max(0.0, csv_tail), 2),
            "upload": round(self.upload, 2),
            "import_wait": round(self.wait, 2),
        }


def run_sync(
    kintone: str,
    haihai: str,
    app: str,
    token: str,
    stop_missing: bool,
    first_poll: float | None,
    partitions: int | None,
    out,
) -> None:
    """Child process: run one 顧客情報連携 and send back the outcome and the wall time."""
    import datetime as dt

    from portal.connector_types.haihai_kintone.customer.config import CustomerSyncSetting
    from portal.connector_types.haihai_kintone.customer.sync import run_customer_sync
    from portal.syncs.clients import haihai_client, kintone_client
    from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess
    from portal.syncs.context import RunContext

    mappings = [FieldMapping("mail", "SINGLE_LINE_TEXT", "メール", "メールアドレス", True)]
    mappings += [
        FieldMapping(
            code, KINTONE_FIELDS[code]["type"], KINTONE_FIELDS[code]["label"], item["label"]
        )
        for code, item in HAIHAI_ITEMS.items()
    ]
    config = ConnectorConfig(
        connector_id="bench",
        name="bench",
        kintone=KintoneAccess(f"{kintone}/{SUB}", SUB, app, token),
        haihai=HaihaiAccess(f"{haihai}/{ACCOUNT}/", LOGIN_ID, TOKEN),
        mappings=tuple(mappings),
    )
    setting = CustomerSyncSetting(
        1, target_type="group", target_id="1", overwrite=True, stop_missing=stop_missing
    )
    # The read takes its partitions from the active run's app config, as in a worker.
    app_config = {} if partitions is None else {"KINTONE_READ_PARTITIONS": partitions}
    context = RunContext(
        run_id="bench",
        connector_id="bench",
        process_key="customer",
        process_number=1,
        trigger="manual",
        params={},
        started_at=dt.datetime.now(dt.UTC),
        timezone="Asia/Tokyo",
        load_config=lambda: config,
        report_progress=lambda processed, total: None,
        app_config=app_config,
    )
    started = time.perf_counter()
    clock = PhaseClock(started)
    with (
        context.active(),
        kintone_client(config.kintone) as kintone,
        haihai_client(config.haihai, allow_local=True) as haihai,
    ):
        clock.around_pages(kintone)
        clock.around_imports(haihai)
        outcome = run_customer_sync(
            config,
            setting,
            kintone_client=kintone,
            haihai_client=haihai,
            first_poll=first_poll,
        )
    seconds = time.perf_counter() - started
    out.send(
        {
            "seconds": round(seconds, 2),
            "processed": outcome.processed,
            "total": outcome.total,
            "parts": outcome.parts,
            "stopped": outcome.stopped,
            "row_errors": outcome.row_error_count,
            "peak_rss_mb": peak_rss_mb(),
            "phases": clock.figures(),
        }
    )
    out.close()


def main() -> int:
    """Run the benchmark; the last line of output is the JSON result."""
    parser = standard_parser(__doc__.splitlines()[0], records=100_001, latency_ms=100)
    parser.add_argument("--haihai-latency-ms", type=int, default=300)
    parser.add_argument(
        "--stop-missing",
        action="store_true",
        help="also 「kintoneアプリのデータに存在しない顧客を配信停止にする」",
    )
    parser.add_argument(
        "--first-poll",
        type=float,
        default=None,
        help="seconds before the first import-result poll (default: the service's estimate)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="`$id` partitions read at once (KINTONE_READ_PARTITIONS; default: the portal's 4)",
    )
    args = parser.parse_args()

    kintone_proc, kintone = start_sandbox("kintone")
    haihai_proc, haihai = start_sandbox("haihai")
    http = requests.Session()
    try:
        loading = time.perf_counter()
        app, token = setup(
            http, kintone, haihai, args.records, args.latency_ms, args.haihai_latency_ms
        )
        print(f"setup: {args.records:,} records loaded in {time.perf_counter() - loading:.1f}s")

        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=run_sync,
            args=(
                kintone,
                haihai,
                app,
                token,
                args.stop_missing,
                args.first_poll,
                args.partitions,
                send,
            ),
        )
        child.start()
        send.close()
        result = receive.recv()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"sync process exited with {child.exitcode}")

        kintone_stats = http.get(f"{kintone}/_sandbox/stats", timeout=60).json()
        haihai_stats = http.get(
            f"{haihai}/_sandbox/stats", params={"account": ACCOUNT}, timeout=60
        ).json()
    finally:
        http.close()
        for process in (kintone_proc, haihai_proc):
            process.terminate()
            process.wait(timeout=30)

    kintone_calls = kintone_stats["total"]
    haihai_calls = haihai_stats["calls"]
    imports = haihai_calls.get("ScheduleCsvImport", 0)
    kintone_budget = math.ceil(args.records / 500) + 3
    print(f"records:          {result['total']:,} read, {result['processed']:,} accepted")
    print(f"wall time:        {result['seconds']:.1f}s (target ≤ {TARGET_SECONDS:g}s)")
    print(f"phases:           {result['phases']}")
    concurrency = kintone_stats["concurrency"].get(SUB, {})
    print(f"kintone at once:  peak {concurrency.get('peak')}, 429 {concurrency.get('rejected')}")
    print(f"kintone calls:    {kintone_calls} (budget ⌈N/500⌉+3 = {kintone_budget})")
    print(f"配配メール calls:  {sum(haihai_calls.values())} {haihai_calls}")
    print(
        f"CSV parts:        {result['parts']} (import calls {imports}, part ≤ {MAX_PART_BYTES:,} B)"
    )
    print(f"peak memory:      {result['peak_rss_mb']} MB (sync process)")
    print_result(
        {
            "name": "customer_sync",
            "records": args.records,
            "seconds": result["seconds"],
            "calls": {
                "kintone": kintone_calls,
                "haihai": sum(haihai_calls.values()),
                "haihai_imports": imports,
                "haihai_by_action": haihai_calls,
            },
            "peak_rss_mb": result["peak_rss_mb"],
            "latency_ms": args.latency_ms,
            "haihai_latency_ms": args.haihai_latency_ms,
            "parts": result["parts"],
            "partitions": args.partitions,
            "phases": result["phases"],
            "kintone_concurrency": concurrency,
            "processed": result["processed"],
            "stop_missing": args.stop_missing,
            "stopped": result["stopped"],
            # The time target is set for 100,001 records; calls and memory hold at any size.
            "ok": (
                (result["seconds"] <= TARGET_SECONDS or args.records > 100_001)
                and not concurrency.get("rejected")
                and kintone_calls <= kintone_budget
                and imports == result["parts"] + (1 if result["stopped"] else 0)
                and result["peak_rss_mb"] < 300
            ),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
