"""Issue #14 item 6 end to end: a 顧客情報連携 run whose kintone freezes, or whose 配配メール
answers the upload with HTTP 500, ends with a message that says what happened, within the
bounded time of its call profile (clients built by the factory, both sandboxes over HTTP)."""

from __future__ import annotations

import time

import pytest

from portal.connector_types.haihai_kintone.customer.sync import (
    HaihaiAccessError,
    KintoneAccessError,
    run_customer_sync,
)
from portal.integrations.retrying import RetryPolicy
from portal.syncs.clients import CallProfile, make_sync_clients
from tests.integrations.test_customer_sync import World, kintone_record, setting

# The RUN profile's shape at test scale: two timed-out attempts at most, a retry budget.
RETRY = RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.2, max_timeouts=2, budget=3.0)
PROFILE = CallProfile(
    "test", timeout=0.5, connect_timeout=0.5, kintone_retry=RETRY, haihai_retry=RETRY
)


@pytest.fixture
def world(kintone_sandbox, haihai_sandbox):
    made = World(kintone_sandbox, haihai_sandbox)
    yield made
    made.close()


def run(world: World, **kwargs):
    config = world.config()
    kintone, haihai = make_sync_clients(config, allow_local=True, profile=PROFILE)
    try:
        return run_customer_sync(
            config, setting(), kintone_client=kintone, haihai_client=haihai, first_poll=0, **kwargs
        )
    finally:
        kintone.close()
        haihai.close()


def test_a_frozen_kintone_ends_the_run_with_a_timeout_message_in_bounded_time(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp")])
    world._post(world.kintone_url, "config", {"latency_ms": 5000})
    started = time.monotonic()
    with pytest.raises(KintoneAccessError) as info:
        run(world)
    elapsed = time.monotonic() - started
    assert info.value.code == "kintone_timeout"
    assert info.value.message.startswith(
        "kintoneが0.5秒以内に応答しなかったため、処理を中止しました（2回試行）。"
    )
    assert "サブドメイン" not in info.value.message
    assert elapsed < 2 * 0.5 + 0.2 + 1.0
    assert world.jobs() == []  # nothing reached 配配メール


def test_http_500_on_the_upload_ends_the_run_naming_the_status_and_is_not_resent(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp"), kintone_record("b@example.jp")])
    world.haihai_config(faults=[{"action": "ScheduleCsvImport", "status": 500, "times": 1}])
    with pytest.raises(HaihaiAccessError) as info:
        run(world)
    error = info.value
    assert error.code == "haihai_uncertain"
    assert error.message.startswith("配配メールがCSVの送信に対してエラー（HTTP 500）を返したため、")
    assert "途絶えた" not in error.message
    assert "（1番目のCSVファイルの送信中）" in error.message
    assert world.haihai_stats()["calls"].get("ScheduleCsvImport") == 1
    assert world.jobs() == []
