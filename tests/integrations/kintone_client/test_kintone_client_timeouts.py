"""A slow, frozen or failing kintone gives up within the profile's bounds, with a typed error
whose message says what happened (real HTTP against the sandbox's latency and fault knobs)."""

from __future__ import annotations

import time

import pytest

from portal.integrations.kintone import (
    KintoneNetworkError,
    KintoneServerError,
    KintoneTimeoutError,
)
from portal.integrations.retrying import RetryPolicy
from portal.messages.kintone import (
    customer_sync_step,
    kintone_error_code,
    kintone_message,
    settings_step,
    view_url_step,
)
from portal.syncs.clients import RUN, CallProfile, kintone_client
from portal.syncs.config import KintoneAccess
from sandbox.serve import free_port

from .kintone_client_support import SUB

# The RUN profile's shape (two timed-out attempts at most, a budget for retries) at test scale.
FAST = RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.2, max_timeouts=2, budget=3.0)
PROFILE = CallProfile(
    "test", timeout=0.4, connect_timeout=0.4, kintone_retry=FAST, haihai_retry=FAST
)


@pytest.fixture
def access(base_url, app, full_token) -> KintoneAccess:
    return KintoneAccess(base_url, SUB, str(app), full_token)


def test_the_run_profile_bounds_timeouts_and_retry_time():
    assert RUN.kintone_retry.max_timeouts == 2
    assert RUN.kintone_retry.budget == 60
    assert (RUN.timeout, RUN.connect_timeout) == (30, 10)


def test_a_frozen_kintone_is_given_up_after_two_timeouts_and_says_so(admin, app, access):
    admin.config(latency_ms=5000)
    started = time.monotonic()
    with (
        kintone_client(access, profile=PROFILE) as client,
        pytest.raises(KintoneTimeoutError) as caught,
    ):
        client.get_records(app)
    elapsed = time.monotonic() - started
    error = caught.value
    assert (error.phase, error.timeout, error.attempts) == ("read", 0.4, 2)
    assert elapsed < 2 * 0.4 + 0.2 + 0.5  # two timeouts, one short delay, some slack
    message = kintone_message(error, customer_sync_step(app))
    assert message.startswith(
        "kintoneが0.4秒以内に応答しなかったため、処理を中止しました（2回試行）。"
    )
    assert "サブドメイン" not in message and "接続できませんでした" not in message
    assert kintone_error_code(error, customer_sync_step(app)) == "kintone_timeout"


def test_a_slow_answer_within_the_timeout_is_not_an_error(admin, app, access):
    admin.load_numbered(app, 3)
    admin.config(latency_ms=150)
    with kintone_client(access, profile=PROFILE) as client:
        records, _ = client.get_records(app)
    assert len(records) == 3


def test_server_errors_are_retried_then_reported_with_their_status(admin, app, access):
    admin.fault("/k/v1/records.json", 500, "GAIA_XX01", times=50, method="GET")
    with (
        kintone_client(access, profile=PROFILE) as client,
        pytest.raises(KintoneServerError) as caught,
    ):
        client.get_records(app)
    error = caught.value
    assert error.status == 500 and error.attempts == FAST.attempts
    assert admin.calls("GET /k/v1/records.json") == FAST.attempts
    for step in (settings_step(app), customer_sync_step(app), view_url_step(app)):
        message = kintone_message(error, step)
        assert message == (
            "kintoneでサーバーエラーが発生しました（HTTP 500）。時間を置いて再度実行してください。"
        )
        assert kintone_error_code(error, step) == "kintone_server"


def test_a_503_storm_ends_within_the_retry_budget(admin, app, base_url, full_token):
    policy = RetryPolicy(attempts=100, base_delay=0.2, max_delay=0.2, budget=1.0)
    profile = CallProfile(
        "test", timeout=2, connect_timeout=2, kintone_retry=policy, haihai_retry=policy
    )
    admin.fault("/k/v1/app.json", 503, "GAIA_MA01", times=1000)
    access = KintoneAccess(base_url, SUB, "1", full_token)
    started = time.monotonic()
    with (
        kintone_client(access, profile=profile) as client,
        pytest.raises(KintoneServerError) as caught,
    ):
        client.get_app(1)
    elapsed = time.monotonic() - started
    assert caught.value.status == 503
    assert 3 <= caught.value.attempts < 100
    assert elapsed < 1.0 + 2 + 0.5


def test_an_unreachable_kintone_points_at_the_subdomain():
    url = f"http://127.0.0.1:{free_port()}/{SUB}"
    access = KintoneAccess(url, SUB, "1", "token")
    with (
        kintone_client(access, profile=PROFILE) as client,
        pytest.raises(KintoneNetworkError) as caught,
    ):
        client.get_app(1)
    assert not isinstance(caught.value, KintoneTimeoutError)
    message = kintone_message(caught.value, settings_step(1))
    assert "kintoneに接続できませんでした" in message and "サブドメイン名" in message
    assert kintone_error_code(caught.value, settings_step(1)) == "kintone_network"
