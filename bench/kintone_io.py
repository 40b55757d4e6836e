"""kintone I/O benchmark: read every record and write N records through KintoneClient.

The kintone sandbox runs in this process (serve_in_thread). The client side of each run runs in
a child process, so the peak memory reported is the client's alone (the sandbox holds every
record in memory). Without --latency-ms the runs use 0 ms and 100 ms of sandbox latency.

    .venv/bin/python -m bench.kintone_io --records 100000
    .venv/bin/python -m bench.kintone_io --records 1000000 --latency-ms 0
"""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.common import peak_rss_mb, print_result, standard_parser

SUB = "bench"
TOKEN = "bench-token"
LOAD_BATCH = 20_000
READ_TARGET = 4_000  # records/s at 100 ms latency
WRITE_TARGET = 15_000
MEMORY_TARGET_MB = 150
FIELDS = {
    "email": {"type": "SINGLE_LINE_TEXT", "code": "email", "label": "メールアドレス"},
    "name": {"type": "SINGLE_LINE_TEXT", "code": "name", "label": "氏名"},
    "qty": {"type": "NUMBER", "code": "qty", "label": "購入数"},
    "pref": {
        "type": "DROP_DOWN",
        "code": "pref",
        "label": "都道府県",
        "options": {p: {"label": p, "index": str(i)} for i, p in enumerate(["東京都", "大阪府"])},
    },
    "since": {"type": "DATE", "code": "since", "label": "登録日"},
}


def make_record(i: int) -> dict:
    """One customer record in write format."""
    return {
        "email": {"value": f"user{i}@example.com"},
        "name": {"value": f"配配 太郎{i}"},
        "qty": {"value": str(i % 1000)},
        "pref": {"value": "東京都" if i % 2 else "大阪府"},
        "since": {"value": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}"},
    }


class Admin:
    """The sandbox's admin API."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs) -> dict:
        """Call `/_sandbox/<path>` and return its JSON body."""
        response = self.http.request(method, f"{self.root}/_sandbox/{path}", timeout=600, **kwargs)
        response.raise_for_status()
        return response.json()

    def create_app(self, name: str) -> int:
        """A deployed app with FIELDS and a full-permission token TOKEN-<app>."""
        app = int(
            self.call("POST", "apps", json={"subdomain": SUB, "name": name, "fields": FIELDS})[
                "app"
            ]
        )
        self.call(
            "POST",
            "tokens",
            json={
                "subdomain": SUB,
                "app": app,
                "token": f"{TOKEN}-{app}",
                "permissions": ["view", "add", "edit", "delete"],
            },
        )
        return app

    def calls(self) -> int:
        """REST calls so far on the bench subdomain."""
        return int(self.call("GET", "stats", params={"subdomain": SUB})["total"])

    def reset_stats(self) -> None:
        """Zero the call counters."""
        self.call("POST", "stats/reset", json={"subdomain": SUB})


# -- client side (child process) ---------------------------------------------------------------


def own_peak_rss_mb() -> float:
    """Peak resident memory of this process image alone.

    ru_maxrss survives fork + exec on Linux, so a child would report the parent's peak (the
    sandbox's data); VmHWM belongs to the current address space and starts afresh at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_rss_mb()


def client_phase(root: str, read_app: int, write_app: int, records: int) -> dict:
    """Read every record of `read_app`, then write `records` records to `write_app`."""
    from portal.integrations.kintone import KintoneClient, kintone_base_url

    admin = Admin(root)
    base_url = kintone_base_url(root + "/{subdomain}", SUB)
    tokens = [f"{TOKEN}-{read_app}", f"{TOKEN}-{write_app}"]
    out: dict = {}
    with KintoneClient(base_url, api_tokens=tokens, timeout=60) as client:
        admin.reset_stats()
        started = time.perf_counter()
        iterator = client.iter_records(read_app)
        count = 0
        checksum = 0
        for record in iterator:
            count += 1
            checksum += int(record["qty"]["value"])
        seconds = time.perf_counter() - started
        out["read"] = {
            "records": count,
            "total_count": iterator.total_count,
            "checksum": checksum,
            "seconds": round(seconds, 3),
            "calls": admin.calls(),
            "peak_rss_mb": own_peak_rss_mb(),
        }
        admin.reset_stats()
        started = time.perf_counter()
        result = client.add_records(
            write_app, (make_record(i) for i in range(records)), max_in_flight=4
        )
        seconds = time.perf_counter() - started
        out["write"] = {
            "records": result.count,
            "seconds": round(seconds, 3),
            "calls": admin.calls(),
        }
    out["peak_rss_mb"] = own_peak_rss_mb()
    return out


# -- orchestration (this process) --------------------------------------------------------------


def load(admin: Admin, app: int, records: int) -> float:
    """Store `records` records through the admin loader; return the seconds it took."""
    started = time.perf_counter()
    for start in range(0, records, LOAD_BATCH):
        batch = [make_record(i) for i in range(start, min(records, start + LOAD_BATCH))]
        admin.call("POST", "records", json={"subdomain": SUB, "app": app, "records": batch})
    return time.perf_counter() - started


def run_client(root: str, read_app: int, write_app: int, records: int) -> dict:
    """Run client_phase in a child process and return its result."""
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.kintone_io",
            "--client-phase",
            json.dumps([root, read_app, write_app, records]),
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"client phase failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is the JSON result."""
    parser = standard_parser(__doc__.splitlines()[0], records=100_000, latency_ms=-1)
    parser.add_argument("--client-phase", default=None, help=argparse_hidden())
    args = parser.parse_args(argv)
    if args.client_phase:
        root, read_app, write_app, records = json.loads(args.client_phase)
        sys.stdout.write(json.dumps(client_phase(root, read_app, write_app, records)) + "\n")
        return 0

    from sandbox.kintone import create_app
    from sandbox.serve import serve_in_thread

    latencies = [0, 100] if args.latency_ms < 0 else [args.latency_ms]
    records = args.records
    server = serve_in_thread(create_app())
    admin = Admin(server.url)
    runs = []
    try:
        read_app = admin.create_app("読み込み")
        load_seconds = load(admin, read_app, records)
        print(f"loaded {records} records in {load_seconds:.1f}s", flush=True)
        # The sandbox keeps every record as long-lived objects; its full collections would
        # rescan them all and dominate the timings. Freeze what is loaded and keep the cyclic
        # collector of this (server) process off while a client runs; the client process is
        # left untouched.
        gc.collect()
        gc.freeze()
        gc.disable()
        for latency in latencies:
            admin.call("POST", "config", json={"latency_ms": latency})
            write_app = admin.create_app(f"書き込み {latency}ms")
            result = run_client(server.url, read_app, write_app, records)
            read, write = result["read"], result["write"]
            read_rate = read["records"] / read["seconds"] if read["seconds"] else 0.0
            write_rate = write["records"] / write["seconds"] if write["seconds"] else 0.0
            expected_read = math.ceil(records / 500) + 2
            expected_write = math.ceil(records / 2000)
            run = {
                "latency_ms": latency,
                "read": {
                    **read,
                    "records_per_s": round(read_rate),
                    "max_calls": expected_read,
                },
                "write": {
                    **write,
                    "records_per_s": round(write_rate),
                    "max_calls": expected_write,
                },
                "client_peak_rss_mb": result["peak_rss_mb"],
            }
            assert read["records"] == records, "the read missed or repeated records"
            runs.append(run)
            print(
                f"latency {latency:>3} ms | read {read['records']} in {read['seconds']:.2f}s "
                f"= {read_rate:,.0f}/s, {read['calls']} calls (max {expected_read}) | "
                f"write {write['records']} in {write['seconds']:.2f}s = {write_rate:,.0f}/s, "
                f"{write['calls']} calls (max {expected_write}) | "
                f"client peak {result['peak_rss_mb']} MB",
                flush=True,
            )
    finally:
        admin.http.close()
        server.stop()

    client_peak = max(run["client_peak_rss_mb"] for run in runs)
    targets = {
        "read_calls": all(r["read"]["calls"] <= r["read"]["max_calls"] for r in runs),
        "write_calls": all(r["write"]["calls"] <= r["write"]["max_calls"] for r in runs),
        "client_memory": client_peak < MEMORY_TARGET_MB,
    }
    for run in runs:
        if run["latency_ms"] == 100:
            targets["read_rate_at_100ms"] = run["read"]["records_per_s"] >= READ_TARGET
            targets["write_rate_at_100ms"] = run["write"]["records_per_s"] >= WRITE_TARGET
    print("targets: " + ", ".join(f"{k}={'ok' if v else 'MISSED'}" for k, v in targets.items()))
    print_result(
        {
            "name": "kintone_io",
            "records": records,
            "seconds": round(sum(r["read"]["seconds"] + r["write"]["seconds"] for r in runs), 3),
            "calls": {"kintone": sum(r["read"]["calls"] + r["write"]["calls"] for r in runs)},
            "peak_rss_mb": client_peak,
            "server_peak_rss_mb": peak_rss_mb(),
            "runs": runs,
            "targets_met": targets,
        }
    )
    return 0


def argparse_hidden() -> str:
    """Help text hiding the internal option from --help."""
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
