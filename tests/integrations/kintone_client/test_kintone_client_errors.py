"""Errors and retries: auth, permissions, 429/5xx/timeouts, no double writes, ledger charges."""

from __future__ import annotations

import time

import pytest

from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneClient,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneTimeoutError,
)
from portal.integrations.ledger import DailyLedger
from portal.integrations.retrying import RetryPolicy
from sandbox.serve import free_port

from .kintone_client_support import FAST_RETRY, SUB

RECORDS_GET = "GET /k/v1/records.json"
BULK = "POST /k/v1/bulkRequest.json"


def test_unknown_token_is_an_auth_error_and_not_retried(admin, app, base_url):
    with (
        KintoneClient(base_url, api_tokens=["nope"], retry=FAST_RETRY) as client,
        pytest.raises(KintoneAuthError) as caught,
    ):
        client.get_records(app)
    error = caught.value
    assert (error.code, error.status) == ("GAIA_IA02", 400)
    assert "API token" in error.message
    assert error.request_id and len(error.request_id) >= 16
    assert admin.calls(RECORDS_GET) == 1


def test_wrong_password_is_cb_wa01(admin, app, base_url):
    admin.user("alice", "right")
    with (
        KintoneClient(base_url, username="alice", password="wrong") as client,
        pytest.raises(KintoneAuthError) as caught,
    ):
        client.get_app(app)
    assert (caught.value.code, caught.value.status) == ("CB_WA01", 401)


def test_password_user_reads_and_token_of_another_app_is_refused(admin, app, base_url):
    admin.user("alice", "pw")
    admin.load_numbered(app, 3)
    with KintoneClient(base_url, username="alice", password="pw") as client:
        assert len(list(client.iter_records(app))) == 3
    other_app = admin.create_app(name="別アプリ")
    other_token = admin.token(other_app, "view")
    with (
        KintoneClient(base_url, api_tokens=[other_token], retry=FAST_RETRY) as client,
        pytest.raises(KintonePermissionError) as caught,
    ):
        client.get_records(app)
    assert (caught.value.code, caught.value.status) == ("GAIA_NO01", 403)


def test_missing_app_is_gaia_ap01(admin, base_url):
    admin.user("alice", "pw")
    with (
        KintoneClient(base_url, username="alice", password="pw") as client,
        pytest.raises(KintoneNotFoundError) as caught,
    ):
        client.get_app(404)
    assert caught.value.code == "GAIA_AP01" and "404" in caught.value.message


def test_throttled_read_is_retried_until_it_succeeds(admin, app, client):
    admin.load_numbered(app, 10)
    admin.fault(RECORDS_GET.split(" ")[1], 429, "GAIA_TO04", times=2)
    assert len(list(client.iter_records(app))) == 10
    assert admin.calls(RECORDS_GET) == 3
    assert client.retries == 2


@pytest.mark.parametrize(("status", "code"), [(500, "GAIA_XX01"), (502, None), (503, None)])
def test_server_errors_on_reads_are_retried(admin, app, client, status, code):
    admin.load_numbered(app, 5)
    admin.fault("/k/v1/records.json", status, code, method="GET")
    page, _ = client.get_records(app)
    assert len(page) == 5
    assert admin.calls(RECORDS_GET) == 2


def test_persistent_server_error_gives_up_after_the_policy(admin, app, client):
    admin.fault("/k/v1/records.json", 503, None, times=10)
    with pytest.raises(KintoneServerError) as caught:
        client.get_records(app)
    assert caught.value.status == 503 and caught.value.code == "HTTP_503"
    assert "<h1>503</h1>" in caught.value.message
    assert admin.calls(RECORDS_GET) == FAST_RETRY.attempts


def test_throttled_add_is_retried_and_writes_once(admin, app, client):
    admin.fault("/k/v1/bulkRequest.json", 429, "GAIA_TO04")
    result = client.add_records(app, [{"title": {"value": "once"}}])
    assert list(result.ids) == [1]
    assert admin.calls(BULK) == 2
    assert [r["title"]["value"] for r in admin.dump(app)] == ["once"]


def test_maintenance_503_on_add_is_retried(admin, app, client):
    admin.fault("/k/v1/bulkRequest.json", 503, None)
    client.add_records(app, [{"title": {"value": "m"}}])
    assert admin.calls(BULK) == 2 and len(admin.dump(app)) == 1


def test_ambiguous_500_on_add_is_not_retried(admin, app, client):
    admin.fault("/k/v1/bulkRequest.json", 500, "GAIA_XX01")
    with pytest.raises(KintoneServerError) as caught:
        client.add_records(app, [{"title": {"value": "x"}}])
    assert caught.value.maybe_applied is True
    assert caught.value.write_report.committed == []
    assert admin.calls(BULK) == 1


def test_ambiguous_500_on_an_idempotent_update_is_retried(admin, app, client):
    admin.load_numbered(app, 2)
    admin.fault("/k/v1/bulkRequest.json", 500, "GAIA_XX01")
    client.update_records(app, [{"id": 1, "record": {"title": {"value": "again"}}}])
    assert admin.calls(BULK) == 2
    assert admin.dump(app)[0]["title"]["value"] == "again"


def test_timed_out_add_is_not_repeated_so_nothing_is_added_twice(admin, app, base_url, full_token):
    admin.config(latency_ms=600)
    with (
        KintoneClient(base_url, api_tokens=[full_token], retry=FAST_RETRY, timeout=0.2) as client,
        pytest.raises(KintoneTimeoutError) as caught,
    ):
        client.add_records(app, [{"title": {"value": "slow"}}])
        assert caught.value.maybe_applied is True
        assert client.calls == 1
    time.sleep(0.6)  # the sandbox finishes the request the client gave up on
    admin.config(latency_ms=0)
    assert [r["title"]["value"] for r in admin.dump(app)] == ["slow"]
    assert admin.calls(BULK) == 1


def test_timed_out_update_without_revision_is_retried(admin, app, base_url, full_token):
    admin.load_numbered(app, 1)
    admin.config(latency_ms=400)
    with KintoneClient(base_url, api_tokens=[full_token], retry=FAST_RETRY, timeout=0.1) as client:
        with pytest.raises(KintoneTimeoutError):
            client.update_records(app, [{"id": 1, "record": {"qty": {"value": "7"}}}])
        assert client.calls == FAST_RETRY.attempts
    time.sleep(0.5)
    admin.config(latency_ms=0)
    assert admin.dump(app)[0]["qty"]["value"] == "7"


def test_slow_read_is_retried_after_timeouts_and_then_succeeds(admin, app, base_url, full_token):
    admin.load_numbered(app, 3)
    admin.config(latency_ms=300)
    retry = RetryPolicy(attempts=3, base_delay=0.3, max_delay=0.3)
    with KintoneClient(base_url, api_tokens=[full_token], retry=retry, timeout=0.1) as client:
        calls_before = admin.calls(RECORDS_GET)
        with pytest.raises(KintoneTimeoutError) as caught:
            client.get_records(app)
        assert "did not answer within 0.1s" in str(caught.value)
        assert client.calls == 3
        admin.config(latency_ms=0)
        page, _ = client.get_records(app)
    assert len(page) == 3
    assert admin.calls(RECORDS_GET) - calls_before == 4


def test_refused_connection_is_a_network_error_known_not_to_be_sent():
    url = f"http://127.0.0.1:{free_port()}/{SUB}"
    with (
        KintoneClient(url, api_tokens=["t"], retry=FAST_RETRY, timeout=2) as client,
        pytest.raises(KintoneNetworkError) as caught,
    ):
        client.add_records(1, [{"title": {"value": "x"}}])
        # Never connected, so even an add is retried; it gives up after the policy.
        assert client.calls == FAST_RETRY.attempts
    assert caught.value.maybe_applied is False
    assert caught.value.code == "NETWORK"


def test_concurrency_429_carries_the_code_and_exhausts_retries(admin, app, client):
    admin.fault("/k/v1/app.json", 429, "GAIA_TO04", times=10)
    with pytest.raises(KintoneThrottledError) as caught:
        client.get_app(app)
    assert caught.value.code == "GAIA_TO04"
    assert admin.calls("GET /k/v1/app.json") == FAST_RETRY.attempts


def test_ledger_charges_every_http_call_to_the_app_bucket(
    admin, app, base_url, full_token, redis_conn
):
    ledger = DailyLedger(redis_conn, prefix="test-ledger")
    admin.load_numbered(app, 1200)
    admin.fault("/k/v1/records.json", 429, "GAIA_TO04", method="GET")
    with KintoneClient(
        base_url, api_tokens=[full_token], retry=FAST_RETRY, ledger=ledger
    ) as client:
        assert len(list(client.iter_records(app))) == 1200
        client.add_records(app, [{"title": {"value": "x"}}] * 3)
        calls = client.calls
    bucket = f"kintone:{base_url.split('://', 1)[1]}:{app}"
    assert ledger.used(bucket) == calls == admin.stats()["total"]


def test_ledger_with_a_limit_refuses_before_sending(admin, app, base_url, full_token, redis_conn):
    from portal.integrations.ledger import BudgetExceeded

    ledger = DailyLedger(redis_conn, prefix="test-ledger", limit=2)
    with KintoneClient(base_url, api_tokens=[full_token], ledger=ledger) as client:
        client.get_app(app)
        client.get_app(app)
        with pytest.raises(BudgetExceeded):
            client.get_app(app)
    assert admin.calls("GET /k/v1/app.json") == 2
