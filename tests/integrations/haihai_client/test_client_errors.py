"""Failures of HaihaiClient against the sandbox: limits, budgets, auth, IP, plans, faults."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from portal.integrations.haihai import (
    JST,
    EventKind,
    HaihaiAuthError,
    HaihaiImportUncertainError,
    HaihaiIpRefusedError,
    HaihaiLimitError,
    HaihaiNotFoundError,
    HaihaiPlanError,
    HaihaiUnavailableError,
    ImportMode,
    ImportOptions,
    Op,
)
from portal.integrations.ledger import DailyLedger
from portal.messages.haihai import haihai_message
from sandbox.serve import free_port

from .conftest import ACCOUNT

CSV = '"メールアドレス","都道府県"\r\n"a@example.jp","東京都"\r\n'.encode()
DELETE_CSV = '"メールアドレス"\r\n"a@example.jp"\r\n'.encode()
SANDBOX_NOW = dt.datetime(2025, 3, 31, 23, 50, tzinfo=JST)
WINDOW = (dt.datetime(2025, 1, 1, tzinfo=JST), dt.datetime(2025, 2, 1, tzinfo=JST))


def test_server_daily_limit_raises_limit_error_with_reset_time_and_is_not_retried(admin, client):
    admin.config(now=SANDBOX_NOW.strftime("%Y-%m-%d %H:%M:%S"), daily_limits={"GetGroupList": 2})
    client.list_groups()
    client.list_groups()
    with pytest.raises(HaihaiLimitError) as caught:
        client.list_groups()
    error = caught.value
    assert error.code == 81404 and error.http_status == 429 and not error.local
    assert error.resets_at == dt.datetime(2025, 4, 1, 0, 0, tzinfo=JST)
    assert error.limit == 2
    assert haihai_message(error) == (
        "配配メールAPI（配信グループの取得）の1日あたりの実行回数の上限（2回）に達したため、処理を中止しました。"
        "実行回数は2025年04月01日 00:00（日本時間）にリセットされます。リセット後に再度実行してください。"
    )
    assert admin.calls("GetGroupList") == 3
    # Other APIs have their own budget.
    assert client.list_step_plans()
    # After midnight JST the budget is back.
    admin.config(advance_seconds=600)
    assert len(client.list_groups()) == 2


def test_import_buckets_are_separate_for_register_delete_and_state_change(admin, client):
    admin.config(daily_limits={"ScheduleCsvImport/register": 1})
    client.import_csv(CSV, ImportOptions())
    with pytest.raises(HaihaiLimitError) as caught:
        client.import_csv(CSV, ImportOptions(overwrite=True))
    assert "CSV一括登録" in haihai_message(caught.value)
    assert client.import_csv(DELETE_CSV, ImportOptions(mode=ImportMode.DELETE))
    assert client.import_csv(DELETE_CSV, ImportOptions(mode=ImportMode.STOP, group_id="1"))
    assert len(admin.jobs()) == 3


def test_two_clients_share_one_ledger_and_stop_before_sending(admin, make_client, redis_conn):
    # A future day: the ledger sets EXPIREAT from its clock, so a past day would expire at once.
    fixed_now = dt.datetime(2031, 6, 30, 14, 59, tzinfo=dt.UTC)  # 23:59 JST
    ledger = DailyLedger(redis_conn, "haihai-test", limit=3, now=lambda: fixed_now)
    first = make_client(ledger=ledger)
    second = make_client(ledger=ledger)
    first.list_groups()
    second.list_groups()
    first.list_groups()
    with pytest.raises(HaihaiLimitError) as caught:
        second.list_groups()
    error = caught.value
    assert error.local and error.limit == 3 and error.used == 3
    assert error.resets_at == dt.datetime(2031, 7, 1, 0, 0, tzinfo=JST)
    assert "2031年07月01日 00:00（日本時間）" in haihai_message(error)
    assert "配信グループの取得" in haihai_message(error)
    assert admin.calls("GetGroupList") == 3
    bucket = f"127.0.0.1:{first.account.port}/{ACCOUNT}:GetGroupList"
    assert ledger.used(bucket) == 3
    # Another API still has budget left.
    assert len(second.list_step_plans()) == 2
    assert ledger.used(f"127.0.0.1:{first.account.port}/{ACCOUNT}:GetStepPlanList") == 1


def test_ledger_counts_imports_in_the_bucket_of_their_mode(admin, make_client, redis_conn):
    ledger = DailyLedger(redis_conn, "haihai-test", limit=1)
    client = make_client(ledger=ledger)
    client.import_csv(CSV, ImportOptions())
    with pytest.raises(HaihaiLimitError) as caught:
        client.import_csv(CSV, ImportOptions())
    assert caught.value.local
    assert (caught.value.operation, caught.value.import_mode) == (Op.IMPORT, ImportMode.REGISTER)
    assert "（CSV一括登録）" in haihai_message(caught.value)
    client.import_csv(DELETE_CSV, ImportOptions(mode=ImportMode.DELETE))
    assert admin.calls("ScheduleCsvImport") == 2


def test_calls_the_server_refused_are_refunded_to_the_ledger(admin, make_client, redis_conn):
    ledger = DailyLedger(redis_conn, "haihai-test", limit=5)
    client = make_client(ledger=ledger, api_token="wrong")
    with pytest.raises(HaihaiAuthError):
        client.list_groups()
    good = make_client(ledger=ledger)
    with pytest.raises(HaihaiNotFoundError):
        list(good.iter_customers(group_id="404"))
    prefix = f"127.0.0.1:{good.account.port}/{ACCOUNT}"
    assert ledger.used(f"{prefix}:GetGroupList") == 0
    assert ledger.used(f"{prefix}:GetCustomerList") == 0


def test_server_limit_uses_up_the_local_budget_so_other_workers_stop_early(
    admin, make_client, redis_conn
):
    admin.config(daily_limits={"GetGroupList": 1})
    ledger = DailyLedger(redis_conn, "haihai-test", limit=240)
    client = make_client(ledger=ledger)
    client.list_groups()
    with pytest.raises(HaihaiLimitError) as server_side:
        client.list_groups()
    assert not server_side.value.local
    with pytest.raises(HaihaiLimitError) as local_side:
        make_client(ledger=ledger).list_groups()
    assert local_side.value.local
    assert admin.calls("GetGroupList") == 2


@pytest.mark.parametrize(
    ("login_id", "token"),
    [("sync-user", "wrong-token"), ("nobody", "token-abc-123"), ("sync-user", "")],
)
def test_bad_credentials_raise_auth_error_without_retry(admin, make_client, login_id, token):
    if not token:
        with pytest.raises(ValueError):
            make_client(login_id=login_id, api_token=token)
        return
    client = make_client(login_id=login_id, api_token=token)
    with pytest.raises(HaihaiAuthError) as caught:
        client.list_items()
    assert caught.value.code == 81401 and caught.value.http_status == 401
    assert "ログインIDとAPIトークン" in haihai_message(caught.value)
    assert admin.calls("GetDatabaseItemList") == 1


def test_regenerated_token_invalidates_the_old_one(admin, client):
    assert client.list_groups()
    admin.patch_user(regenerate_token=True)
    with pytest.raises(HaihaiAuthError):
        client.list_groups()


def test_ip_allowlist_refusal(admin, client):
    admin.patch_account(ip_allowlist=["192.0.2.10"])
    with pytest.raises(HaihaiIpRefusedError) as caught:
        client.list_groups()
    assert caught.value.code == 81403
    assert "API IPアドレス制限" in haihai_message(caught.value)
    assert admin.calls("GetGroupList") == 1
    admin.patch_account(ip_allowlist=["192.0.2.10", "127.0.0.1"])
    assert len(client.list_groups()) == 2


def test_plan_gating_names_the_feature_and_the_plan(admin, client):
    admin.patch_account(plan="standard")
    with pytest.raises(HaihaiPlanError) as visit:
        list(client.iter_events(EventKind.VISIT, *WINDOW))
    assert visit.value.code == 81402
    assert visit.value.operation is Op.VISIT_LOG
    assert haihai_message(visit.value).startswith(
        "Web来訪の取得は、ご契約中の配配メールのプランでは"
    )
    with pytest.raises(HaihaiPlanError):
        client.list_forms()
    with pytest.raises(HaihaiPlanError):
        list(client.iter_form_answers("50", *WINDOW))
    assert list(client.iter_events(EventKind.CV, *WINDOW)) == []

    admin.patch_account(plan="light")
    with pytest.raises(HaihaiPlanError) as cv:
        list(client.iter_events(EventKind.CV, *WINDOW))
    assert "スタンダードプラン以上が必要です" in haihai_message(cv.value)
    assert list(client.iter_events(EventKind.OPEN, *WINDOW)) == []
    assert list(client.iter_events(EventKind.DOWNLOAD, *WINDOW)) == []


def test_forms_need_an_admin_login(admin, client):
    admin.patch_user(is_admin=False)
    with pytest.raises(HaihaiPlanError) as caught:
        client.list_forms()
    assert "管理者権限のあるログインID" in haihai_message(caught.value)
    assert client.list_groups()


def test_transient_server_errors_are_retried(admin, client):
    admin.config(faults=[{"action": "GetGroupList", "times": 2}])
    assert len(client.list_groups()) == 2
    assert admin.stats()["results"]["GetGroupList"] == {"81500": 2, "10200": 1}


def test_persistent_server_errors_end_in_unavailable_after_the_retries(admin, client):
    admin.config(faults=[{"action": "GetGroupList", "times": 10, "status": 503}])
    with pytest.raises(HaihaiUnavailableError) as caught:
        client.list_groups()
    assert caught.value.http_status == 503 and caught.value.code == 81500
    assert "HTTP 503" in haihai_message(caught.value)
    assert admin.calls("GetGroupList") == 3


def test_server_error_on_import_is_never_resent(admin, client):
    admin.config(faults=[{"action": "ScheduleCsvImport", "times": 1}])
    with pytest.raises(HaihaiImportUncertainError) as caught:
        client.import_csv(CSV, ImportOptions())
    assert caught.value.http_status == 500
    assert "一括登録・削除の処理結果" in haihai_message(caught.value)
    assert admin.calls("ScheduleCsvImport") == 1


def test_import_read_timeout_is_not_resent_and_the_job_exists_once(admin, make_client):
    admin.config(latency_ms=800)
    client = make_client(timeout=0.3, import_timeout=0.3)
    with pytest.raises(HaihaiImportUncertainError) as caught:
        client.import_csv(CSV, ImportOptions())
    assert caught.value.maybe_delivered
    deadline = time.monotonic() + 5
    while not admin.jobs() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(admin.jobs()) == 1
    assert admin.calls("ScheduleCsvImport") == 1


def test_read_timeouts_on_reads_are_retried(admin, make_client):
    admin.config(latency_ms=400)
    client = make_client(timeout=0.15)
    with pytest.raises(HaihaiUnavailableError) as caught:
        client.list_groups()
    assert "timeout" in caught.value.message
    time.sleep(0.5)
    assert admin.calls("GetGroupList") == 3


def test_unreachable_host_is_unavailable_and_a_refused_import_is_retried_safely(
    admin, make_client, redis_conn
):
    ledger = DailyLedger(redis_conn, "haihai-test", limit=10)
    url = f"http://127.0.0.1:{free_port()}/{ACCOUNT}/"
    client = make_client(base_url=url, ledger=ledger)
    with pytest.raises(HaihaiUnavailableError) as caught:
        client.list_groups()
    assert not caught.value.maybe_delivered and caught.value.http_status is None
    assert "接続できませんでした" in haihai_message(caught.value)
    with pytest.raises(HaihaiUnavailableError) as upload:
        client.import_csv(CSV, ImportOptions())
    # Nothing reached a server, so this is a plain outage, not an uncertain import.
    assert not isinstance(upload.value, HaihaiImportUncertainError)
    assert ledger.used(f"127.0.0.1:{client.account.port}/{ACCOUNT}:GetGroupList") == 0


def test_unknown_account_key_is_not_found(admin, make_client, haihai_sandbox):
    client = make_client(base_url=f"{haihai_sandbox}/m99999/")
    with pytest.raises(HaihaiNotFoundError) as caught:
        client.list_groups()
    assert "配配メールURL" in haihai_message(caught.value)


def test_client_refuses_production_style_check_for_local_url_without_flag(haihai_sandbox):
    from portal.integrations.haihai import HaihaiClient, HaihaiUrlError

    with pytest.raises(HaihaiUrlError):
        HaihaiClient(f"{haihai_sandbox}/{ACCOUNT}/", "sync-user", "token")


def test_csv_mode_error_body_of_the_sandbox_is_understood(admin, haihai_sandbox):
    import requests

    from portal.integrations.haihai.transport import csv_error

    response = requests.post(
        f"{haihai_sandbox}/{ACCOUNT}/",
        params={"ac": "GetGroupList"},
        data={"login_id": "x", "api_token": "y", "return_format": "csv", "charset": "2"},
        timeout=10,
    )
    assert response.status_code == 401
    assert csv_error(response.content) == (81401, "ログインIDまたはAPIトークンが正しくありません")
