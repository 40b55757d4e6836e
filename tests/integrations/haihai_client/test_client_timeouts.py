"""A slow, frozen or failing 配配メール gives up within the profile's bounds, with a typed error
whose message says what happened (real HTTP against the sandbox's latency and fault knobs)."""

from __future__ import annotations

import time

import pytest

from portal.integrations.haihai import (
    HaihaiConnectionError,
    HaihaiImportUncertainError,
    HaihaiServerError,
    HaihaiTimeoutError,
    ImportOptions,
)
from portal.integrations.retrying import RetryPolicy
from portal.messages.haihai import haihai_error_code, haihai_message
from portal.syncs.clients import RUN, CallProfile, haihai_client
from portal.syncs.config import HaihaiAccess
from sandbox.serve import free_port

from .conftest import ACCOUNT, LOGIN_ID, TOKEN

CSV = '"メールアドレス","都道府県"\r\n"a@example.jp","東京都"\r\n'.encode()
FAST = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2, max_timeouts=2, budget=3.0)
PROFILE = CallProfile(
    "test",
    timeout=0.4,
    connect_timeout=0.4,
    kintone_retry=FAST,
    haihai_retry=FAST,
    import_timeout=0.4,
)


@pytest.fixture
def client(admin, account_url):
    access = HaihaiAccess(account_url, LOGIN_ID, TOKEN)
    with haihai_client(access, allow_local=True, profile=PROFILE) as made:
        yield made


def _wait_for_jobs(admin, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(admin.jobs()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return admin.jobs()


def test_the_run_profile_bounds_timeouts_and_retry_time():
    assert RUN.haihai_retry.max_timeouts == 2 and RUN.haihai_retry.budget == 60
    assert (RUN.timeout, RUN.connect_timeout, RUN.import_timeout) == (30, 10, 300)


def test_a_frozen_haihai_is_given_up_after_two_timeouts_and_says_so(admin, client):
    admin.config(latency_ms=3000)
    started = time.monotonic()
    with pytest.raises(HaihaiTimeoutError) as caught:
        client.list_groups()
    elapsed = time.monotonic() - started
    error = caught.value
    assert (error.phase, error.timeout, error.attempts) == ("read", 0.4, 2)
    assert elapsed < 2 * 0.4 + 0.2 + 0.5
    assert haihai_message(error) == (
        "配配メールが0.4秒以内に応答しなかったため、処理を中止しました（2回試行）。"
        "時間を置いて再度実行してください。"
    )
    assert haihai_error_code(error) == "haihai_timeout"


def test_http_500_on_the_upload_is_reported_as_a_server_error_not_a_broken_connection(
    admin, client
):
    admin.config(faults=[{"action": "ScheduleCsvImport", "status": 500, "times": 1}])
    with pytest.raises(HaihaiImportUncertainError) as caught:
        client.import_csv(CSV, ImportOptions())
    error = caught.value
    assert isinstance(error.cause, HaihaiServerError) and error.cause.http_status == 500
    message = haihai_message(error)
    assert message.startswith("配配メールがCSVの送信に対してエラー（HTTP 500）を返したため、")
    assert "途絶えた" not in message
    assert "自動では再送していません" in message and "一括登録・削除の処理結果" in message
    assert haihai_error_code(error) == "haihai_uncertain"
    assert admin.calls("ScheduleCsvImport") == 1  # never sent twice


def test_an_upload_without_an_answer_says_how_long_was_waited(admin, client):
    admin.config(latency_ms=1500)
    with pytest.raises(HaihaiImportUncertainError) as caught:
        client.import_csv(CSV, ImportOptions())
    error = caught.value
    assert isinstance(error.cause, HaihaiTimeoutError)
    assert haihai_message(error).startswith(
        "配配メールへCSVを送信した後、0.4秒以内に応答がなかったため、"
        "取り込みが受け付けられたか確認できませんでした。"
    )
    # The sandbox finishes the request the client gave up on: exactly one job, never two.
    assert len(_wait_for_jobs(admin, 1)) == 1
    time.sleep(0.3)
    assert admin.calls("ScheduleCsvImport") == 1


def test_server_errors_on_reads_are_retried_then_reported_with_their_status(admin, client):
    admin.config(faults=[{"action": "GetGroupList", "status": 502, "times": 50}])
    with pytest.raises(HaihaiServerError) as caught:
        client.list_groups()
    assert caught.value.http_status == 502 and caught.value.attempts == FAST.attempts
    assert haihai_message(caught.value) == (
        "配配メールでエラーが発生しました（HTTP 502）。時間を置いて再度実行してください。"
    )
    assert haihai_error_code(caught.value) == "haihai_server"


def test_an_unreachable_haihai_points_at_the_url():
    access = HaihaiAccess(f"http://127.0.0.1:{free_port()}/{ACCOUNT}/", LOGIN_ID, TOKEN)
    with (
        haihai_client(access, allow_local=True, profile=PROFILE) as client,
        pytest.raises(HaihaiConnectionError) as caught,
    ):
        client.list_groups()
    assert not caught.value.maybe_delivered
    assert haihai_message(caught.value).startswith(
        "配配メールに接続できませんでした。配配メールURLが正しいか確認し、"
    )
    assert haihai_error_code(caught.value) == "haihai_network"
