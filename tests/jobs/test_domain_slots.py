"""The per-domain request slots in Redis: never more than the limit across processes, a killed
holder's slot frees itself after its lease, renewals, timeouts and the recorded peak."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
import requests

from portal.domain_slots import DomainSlots, SlotTimeout
from tests.jobs.conftest import redis_url_with_db

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "example.cybozu.com"

# Each process: threads take a slot, count themselves in flight in a key of their own (not the
# semaphore's), keep the highest count seen, and let go.
HAMMER = textwrap.dedent(
    """
    import sys, threading, time, redis
    from portal.domain_slots import DomainSlots
    url, limit, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    conn = redis.Redis.from_url(url)
    record = conn.register_script(
        "local n = redis.call('INCR', KEYS[1]) "
        "if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end "
        "return n"
    )
    def work():
        slots = DomainSlots(conn, "example.cybozu.com", limit)
        for _ in range(rounds):
            with slots.slot(timeout=60):
                record(keys=["test:inflight", "test:inflight-max"])
                time.sleep(0.004)
                conn.decr("test:inflight")
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    """
)


# A Redis database of this module's own: other suites flush theirs while these tests count.
SLOTS_REDIS_DB = 12


@pytest.fixture
def slots_url(redis_url) -> str:
    return redis_url_with_db(redis_url, SLOTS_REDIS_DB)


@pytest.fixture
def redis_conn(slots_url):
    conn = redis.Redis.from_url(slots_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def _python(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-c", *args], cwd=PROJECT_ROOT, env=env, **kwargs)


def test_processes_on_one_domain_never_hold_more_than_the_limit(redis_conn, slots_url):
    processes = [_python(HAMMER, slots_url, "3", "5", "30") for _ in range(4)]
    for process in processes:
        assert process.wait(timeout=120) == 0
    slots = DomainSlots(redis_conn, DOMAIN, 3)
    # 20 threads competed for 3 slots: in flight reached the limit and never went past it.
    assert int(redis_conn.get("test:inflight-max")) == 3
    assert slots.peak() == 3
    assert slots.held() == 0 and int(redis_conn.get("test:inflight")) == 0


def test_a_killed_holder_frees_its_slots_when_the_lease_ends(redis_conn, slots_url):
    holder = _python(
        textwrap.dedent(
            """
            import sys, time, redis
            from portal.domain_slots import DomainSlots
            slots = DomainSlots(redis.Redis.from_url(sys.argv[1]), "example.cybozu.com", 2,
                                lease_seconds=1.5)
            slots.acquire(); slots.acquire()
            print("held", flush=True)
            time.sleep(600)
            """
        ),
        slots_url,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        slots = DomainSlots(redis_conn, DOMAIN, 2)
        assert slots.try_acquire() is None  # both slots still leased by the dead process
        killed_at = time.monotonic()
        token = slots.acquire(timeout=10)
        assert 0.5 < time.monotonic() - killed_at < 5
        assert slots.held() == 1
        slots.release(token)
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)
        holder.stdout.close()


def test_renew_keeps_a_slot_past_its_lease_and_reports_a_lost_one(redis_conn):
    slots = DomainSlots(redis_conn, DOMAIN, 1, lease_seconds=0.4)
    token = slots.acquire()
    for _ in range(4):
        time.sleep(0.2)
        assert slots.renew(token)
    assert slots.try_acquire() is None  # still ours after 0.8 s thanks to the renewals
    time.sleep(0.5)
    assert not slots.renew(token)  # lapsed: the holder learns it lost the slot
    other = slots.try_acquire()
    assert other is not None
    slots.release(token)  # releasing a lapsed token does not free someone else's slot
    assert slots.held() == 1
    slots.release(other)
    assert slots.held() == 0


def test_waiting_for_a_slot_gives_up_after_the_timeout(redis_conn):
    slots = DomainSlots(redis_conn, DOMAIN, 1)
    token = slots.acquire()
    started = time.monotonic()
    with pytest.raises(SlotTimeout):
        slots.acquire(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    slots.release(token)
    with slots.slot(timeout=1):
        assert slots.held() == 1
    assert slots.held() == 0


def test_domains_are_counted_separately_and_case_insensitively(redis_conn):
    upper = DomainSlots(redis_conn, "EXAMPLE.cybozu.com", 1)
    lower = DomainSlots(redis_conn, DOMAIN, 1)
    other = DomainSlots(redis_conn, "other.cybozu.com", 1)
    assert upper.try_acquire() is not None
    assert lower.try_acquire() is None
    assert other.try_acquire() is not None
    with pytest.raises(ValueError):
        DomainSlots(redis_conn, DOMAIN, 0)


# One run's read in a process of its own: a RunContext with the shared Redis and the app config
# is active, so the client holds a domain slot per request and the reader takes its partitions
# from the config. Prints the records read and how many distinct ids they had.
READER = textwrap.dedent(
    """
    import datetime as dt, sys, redis
    from portal.syncs.clients import kintone_access, kintone_client
    from portal.syncs.context import RunContext
    from portal.syncs.record_read import read_records
    url, base, app, token, cap, partitions = sys.argv[1:7]
    context = RunContext(
        run_id="r", connector_id="c", process_key="customer", process_number=1,
        trigger="manual", params={}, started_at=dt.datetime.now(dt.UTC), timezone="Asia/Tokyo",
        load_config=lambda: None, report_progress=lambda processed, total: None,
        redis=redis.Redis.from_url(url),
        app_config={"KINTONE_DOMAIN_CONCURRENCY": int(cap),
                    "KINTONE_READ_PARTITIONS": int(partitions)},
    )
    with context.active():
        access = kintone_access(base + "/{subdomain}", "slots", app, token)
        with kintone_client(access) as client:
            reader = read_records(client, int(app), "", ["mail"])
            ids = [int(record["$id"]["value"]) for record in reader]
    print(reader.partitions, len(ids), len(set(ids)), flush=True)
    """
)


def test_concurrent_reads_of_one_domain_never_exceed_its_cap(
    redis_conn, slots_url, kintone_sandbox
):
    http = requests.Session()

    def post(path: str, body: dict) -> dict:
        response = http.post(f"{kintone_sandbox}/_sandbox/{path}", json=body, timeout=60)
        assert response.status_code < 300, response.text
        return response.json()

    fields = {"mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"}}
    app = post("apps", {"subdomain": "slots", "fields": fields})["app"]
    token = post("tokens", {"subdomain": "slots", "app": app, "permissions": ["view"]})["token"]
    count = 8_000
    records = [{"mail": {"value": f"u{i}@example.jp"}} for i in range(count)]
    post("records", {"subdomain": "slots", "app": app, "records": records})
    # kintone's own limit set to the cap: a request beyond the cap would be refused with 429.
    post("config", {"latency_ms": 40, "concurrency_limit": 3})
    post("stats/reset", {})
    try:
        readers = [
            _python(
                READER,
                slots_url,
                kintone_sandbox,
                str(app),
                token,
                "3",
                "4",
                stdout=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [reader.communicate(timeout=120)[0].split() for reader in readers]
        assert [reader.returncode for reader in readers] == [0, 0]
        stats = http.get(
            f"{kintone_sandbox}/_sandbox/stats", params={"subdomain": "slots"}, timeout=10
        ).json()
    finally:
        post("config", {"latency_ms": 0, "concurrency_limit": 100})
        http.close()
    # Each run read every record once, with its 4 partitions lowered to the cap of 3.
    assert outputs == [[b"3", str(count).encode(), str(count).encode()]] * 2
    host = kintone_sandbox.split("://", 1)[1] + "/slots"
    slots = DomainSlots(redis_conn, host, 3)
    # Six partitions wanted to read at once; the domain never had more than 3 requests.
    assert slots.peak() == 3 and slots.held() == 0
    assert stats["concurrency"]["slots"]["peak"] <= 3
    assert stats["concurrency"]["slots"]["rejected"] == 0
    assert stats["total"] <= 2 * (count // 500 + 1)


def _one_record_app(base: str) -> tuple[str, str]:
    def post(path: str, body: dict) -> dict:
        response = requests.post(f"{base}/_sandbox/{path}", json=body, timeout=60)
        assert response.status_code < 300, response.text
        return response.json()

    fields = {"mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"}}
    app = post("apps", {"subdomain": "slots", "fields": fields})["app"]
    token = post("tokens", {"subdomain": "slots", "app": app, "permissions": ["view"]})["token"]
    post("records", {"subdomain": "slots", "app": app, "records": [{"mail": {"value": "a@b.jp"}}]})
    return str(app), token


def test_a_request_without_a_free_slot_fails_like_kintones_429(redis_conn, kintone_sandbox):
    from portal.integrations.kintone import KintoneClient, KintoneThrottledError
    from portal.integrations.retrying import RetryPolicy
    from portal.syncs.clients import hold_domain_slots

    app, token = _one_record_app(kintone_sandbox)
    client = KintoneClient(
        f"{kintone_sandbox}/slots", api_tokens=[token], retry=RetryPolicy(attempts=1)
    )
    slots = DomainSlots(redis_conn, client.host, 1)
    hold_domain_slots(client, slots)
    adapter = client.session.get_adapter(client.base_url)
    adapter.wait = 0.3
    held = slots.acquire()  # another run holds the domain's only slot
    with pytest.raises(KintoneThrottledError) as raised:
        client.get_records(int(app), "")
    assert raised.value.code == "GAIA_TO04"
    slots.release(held)
    records, _ = client.get_records(int(app), "")
    assert len(records) == 1 and slots.held() == 0 and slots.peak() == 1
    client.close()


def test_requests_go_without_slots_while_redis_is_down(kintone_sandbox):
    from portal.integrations.kintone import KintoneClient
    from portal.syncs.clients import hold_domain_slots
    from sandbox.serve import free_port

    app, token = _one_record_app(kintone_sandbox)
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    client = KintoneClient(f"{kintone_sandbox}/slots", api_tokens=[token])
    hold_domain_slots(client, DomainSlots(down, client.host, 1))
    records, _ = client.get_records(int(app), "")
    assert len(records) == 1
    client.close()


def test_a_failed_request_gives_its_slot_back(redis_conn):
    from portal.integrations.kintone import KintoneClient, KintoneNetworkError
    from portal.integrations.retrying import RetryPolicy
    from portal.syncs.clients import hold_domain_slots
    from sandbox.serve import free_port

    # Nothing listens on the port: every attempt is refused after taking a slot.
    client = KintoneClient(
        f"http://127.0.0.1:{free_port()}/slots",
        api_tokens=["t"],
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02),
    )
    slots = DomainSlots(redis_conn, client.host, 1)
    hold_domain_slots(client, slots)
    with pytest.raises(KintoneNetworkError):
        client.get_records(1, "")
    assert slots.held() == 0 and slots.peak() == 1  # each of the 3 attempts held it in turn
    client.close()
