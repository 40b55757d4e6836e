"""Scale check of the 配配メール sandbox over real HTTP (not a test; prints one JSON line).

python -m sandbox.haihai.measure [--customers 500000] [--events 1000000] [--import-mb 15]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.serve import free_port

ACCOUNT = "m90001"
AUTH = {"login_id": "bench", "api_token": "bench-token"}
PREFS = ["東京都", "大阪府", "北海道", "福岡県", "愛知県"]
INTERESTS = ["料金", "導入事例", "セミナー", "資料"]


def _memory_mb(pid: int) -> dict[str, float]:
    """Current and peak resident memory of the sandbox process (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


def _start_sandbox() -> tuple[subprocess.Popen, str]:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "haihai", "--port", str(port), "--quiet"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
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
    raise RuntimeError("sandbox did not start")


def _account() -> dict:
    return {
        "account_key": ACCOUNT,
        "plan": "bridge",
        "users": [{"login_id": "bench", "email": "bench@example.jp", "api_token": "bench-token"}],
        "items": [
            {"item_id": "I2", "label": "氏名", "type": "text"},
            {"item_id": "I3", "label": "ふりがな", "type": "text", "input_rule": "hiragana"},
            {"item_id": "I4", "label": "都道府県", "type": "select", "options": PREFS},
            {"item_id": "I5", "label": "関心", "type": "checkbox", "options": INTERESTS},
            {"item_id": "I6", "label": "誕生日", "type": "date"},
            {"item_id": "I7", "label": "購入回数", "type": "int"},
        ],
        "groups": [{"gid": "1", "name": "メルマガ"}, {"gid": "2", "name": "セミナー案内"}],
    }


def _customer(index: int) -> dict:
    return {
        "email": f"user{index:07d}@example.jp",
        "values": {
            "I2": f"顧客{index}",
            "I3": "やまだたろう",
            "I4": PREFS[index % len(PREFS)],
            "I5": INTERESTS[: index % 3 + 1],
            "I6": f"19{index % 90 + 10:02d}/0{index % 9 + 1}/1{index % 9}",
            "I7": str(index % 50),
        },
        "memberships": [{"gid": "1", "state": "stop" if index % 20 == 0 else "ok"}],
    }


def _post(session: requests.Session, url: str, action: str, **params) -> requests.Response:
    response = session.post(url, params={"ac": action}, data={**AUTH, **params}, timeout=600)
    response.raise_for_status()
    return response


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--import-mb", type=float, default=15.0)
    args = parser.parse_args(argv)

    process, url = _start_sandbox()
    admin = f"{url}/_sandbox"
    api = f"{url}/{ACCOUNT}/"
    figures: dict = {"customers": args.customers, "events": args.events}
    rng = random.Random(7)
    with requests.Session() as session:
        session.post(
            f"{admin}/config", json={"daily_limit": 10_000_000, "event_lag_seconds": 0}
        ).raise_for_status()
        session.post(f"{admin}/accounts", json=_account()).raise_for_status()

        started = time.perf_counter()
        batch = 50_000
        for first in range(0, args.customers, batch):
            chunk = [_customer(i) for i in range(first, min(args.customers, first + batch))]
            session.post(
                f"{admin}/customers", json={"account": ACCOUNT, "customers": chunk}
            ).raise_for_status()
        figures["load_customers_s"] = round(time.perf_counter() - started, 2)

        base_time = 1_735_657_200  # 2025-01-01 00:00 JST
        span = 30 * 86400
        started = time.perf_counter()
        batch = 100_000
        for first in range(0, args.events, batch):
            chunk = []
            for index in range(first, min(args.events, first + batch)):
                # Mostly increasing time with some jitter, so batches overlap like late arrivals.
                when = base_time + index * span // args.events + rng.randint(-3600, 0)
                kind = "open" if index % 3 else "click"
                chunk.append(
                    {
                        "action_type": kind,
                        "email": f"user{index % max(1, args.customers):07d}@example.jp",
                        "occurred_at": max(base_time, when),
                        "mail_id": str(1000 + index % 40),
                        "mail_type": "group",
                        "subject": "月刊ニュース",
                        "url": "https://example.jp/lp" if kind == "click" else None,
                    }
                )
            session.post(
                f"{admin}/events", json={"account": ACCOUNT, "events": chunk}
            ).raise_for_status()
        figures["load_events_s"] = round(time.perf_counter() - started, 2)
        figures["after_load"] = _memory_mb(process.pid)

        # Page through every open event (about two thirds of all events) with limit 10000.
        started = time.perf_counter()
        offset = 0
        seen = 0
        page_times = []
        while True:
            page_started = time.perf_counter()
            body = _post(
                session,
                api,
                "GetOpenLog",
                offset=str(offset),
                limit="10000",
                **{"from": "2025-01-01 00:00:00", "to": "2025-03-01 00:00:00"},
            ).json()["data"]
            page_times.append(time.perf_counter() - page_started)
            seen += len(body["items"])
            offset += len(body["items"])
            if not body["items"] or offset >= body["total"]:
                break
        figures["open_events_paged"] = seen
        figures["open_log_paging_s"] = round(time.perf_counter() - started, 2)
        figures["open_log_first_page_ms"] = round(page_times[0] * 1000, 1)
        figures["open_log_last_page_ms"] = round(page_times[-1] * 1000, 1)

        started = time.perf_counter()
        narrow = _post(
            session,
            api,
            "GetClickLog",
            limit="1000",
            **{"from": "2025-01-15 00:00:00", "to": "2025-01-15 01:00:00"},
        ).json()["data"]
        figures["click_log_one_hour_window_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["click_log_one_hour_total"] = narrow["total"]

        started = time.perf_counter()
        offset = 0
        pages = []
        while True:
            page_started = time.perf_counter()
            body = _post(session, api, "GetCustomerList", offset=str(offset), limit="10000").json()[
                "data"
            ]
            pages.append(time.perf_counter() - page_started)
            offset += len(body["items"])
            if not body["items"] or offset >= body["total"]:
                break
        figures["customer_list_paging_s"] = round(time.perf_counter() - started, 2)
        figures["customer_list_pages"] = len(pages)
        figures["customer_list_last_page_ms"] = round(pages[-1] * 1000, 1)

        started = time.perf_counter()
        stops = _post(session, api, "GetDeliveryStateList", state="stop", limit="10000").json()
        figures["stop_list_first_page_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["stop_list_total"] = stops["data"]["total"]

        # A 15 MB Shift_JIS file: updates of existing customers plus new ones.
        lines = ["メールアドレス,氏名,ふりがな,都道府県,関心,誕生日,購入回数"]
        size = len(lines[0].encode("cp932")) + 2
        index = 0
        limit_bytes = int(args.import_mb * 1024 * 1024) - 512
        while True:
            line = (
                f'"import{index:07d}@example.jp","輸入 太郎{index}","やまだはなこ",'
                f'"{PREFS[index % 5]}","料金,セミナー","1990/05/{index % 28 + 1:02d}",'
                f'"{index % 100}"'
            )
            encoded = len(line.encode("cp932")) + 2
            if size + encoded > limit_bytes:
                break
            lines.append(line)
            size += encoded
            index += 1
        data = ("\r\n".join(lines) + "\r\n").encode("cp932")
        figures["import_bytes"] = len(data)
        figures["import_rows"] = index
        started = time.perf_counter()
        accepted = session.post(
            api,
            params={"ac": "ScheduleCsvImport"},
            data={**AUTH, "import_type": "0", "gid": "2", "is_overwrite": "1"},
            files={"csvfile": ("big.csv", data, "text/csv")},
            timeout=600,
        )
        accepted.raise_for_status()
        figures["import_accept_s"] = round(time.perf_counter() - started, 2)
        job_id = accepted.json()["data"]["job_id"]
        while True:
            jobs = session.get(f"{admin}/jobs", params={"account": ACCOUNT}).json()["jobs"]
            job = next(j for j in jobs if j["job_id"] == job_id)
            if job["state"] in ("completed", "failed"):
                break
            time.sleep(0.2)
        figures["import_total_s"] = round(time.perf_counter() - started, 2)
        figures["import_inserted"] = job["inserted"]
        figures["import_failed"] = job["failed"]
        figures["end"] = _memory_mb(process.pid)
    process.terminate()
    process.wait(timeout=10)
    sys.stdout.write(json.dumps(figures, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
