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
