"""The 顧客情報連携 run handlers: registry entries, client building, outcome and RunFailed."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

import portal.connector_types.haihai_kintone.customer.handlers as handlers
from portal.connector_types.haihai_kintone.customer.config import (
    CUSTOMER_KEYS,
    CUSTOMER_PLUGIN,
    CustomerSyncSetting,
)
from portal.connector_types.registry import get_process
from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess
from portal.syncs.context import RunContext, RunFailed

SUB = "example"


@pytest.fixture
def sandboxes(kintone_sandbox, haihai_sandbox):
    """A kintone app with three records and a 配配メール account with one group."""
    http = requests.Session()

    def post(base, path, body):
        response = http.post(f"{base}/_sandbox/{path}", json=body, timeout=30)
        assert response.status_code < 300, response.text
        return response.json()

    fields = {
        "mail": {"type": "SINGLE_LINE_TEXT", "label": "メール"},
        "area": {
            "type": "RADIO_BUTTON",
            "label": "地域",
            "options": {"東": {"label": "東", "index": "0"}, "西": {"label": "西", "index": "1"}},
        },
    }
    app = post(kintone_sandbox, "apps", {"subdomain": SUB, "fields": fields})["app"]
    token = post(kintone_sandbox, "tokens", {"subdomain": SUB, "app": app})["token"]
    post(
        kintone_sandbox,
        "records",
        {
            "subdomain": SUB,
            "app": app,
            "records": [
                {"mail": {"value": "a@example.jp"}, "area": {"value": "東"}},
                {"mail": {"value": "b@example.jp"}, "area": {"value": "西"}},
                {"mail": {"value": "c@example.jp"}, "area": {"value": "西"}},
            ],
        },
    )
    post(
        haihai_sandbox,
        "accounts",
        {
            "account_key": "m30001",
            "users": [{"login_id": "u1", "email": "u1@example.jp", "api_token": "tk"}],
            "items": [{"label": "地域", "type": "radio", "options": ["東", "西"]}],
            "groups": [{"gid": "7", "name": "G"}],
        },
    )

    def customers():
        response = http.get(
            f"{haihai_sandbox}/_sandbox/customers", params={"account": "m30001"}, timeout=30
        )
        return {
            c["email"]: {m["id"]: m["state"] for m in c["memberships"]}
            for c in response.json()["customers"]
        }

    config = ConnectorConfig(
        connector_id="c1",
        name="連携01",
        kintone=KintoneAccess(f"{kintone_sandbox}/{SUB}", SUB, app, token),
        haihai=HaihaiAccess(f"{haihai_sandbox}/m30001/", "u1", "tk"),
        mappings=(
            FieldMapping("mail", "SINGLE_LINE_TEXT", "メール", "メールアドレス", is_email=True),
            FieldMapping("area", "RADIO_BUTTON", "地域", "地域"),
        ),
        sections={
            "step5": (
                CustomerSyncSetting(1, target_type="group", target_id="7"),
                CustomerSyncSetting(2, timing="off"),
            )
        },
    )
    yield config, customers
    http.close()


def context(config, process_key, number=None, params=None, progress=None):
    return RunContext(
        run_id="01GPZ6JAJF3N45A29JD3WN3B4D",
        connector_id=config.connector_id,
        process_key=process_key,
        process_number=number,
        trigger="manual",
        params=params or {},
        started_at=dt.datetime.now(dt.UTC),
        timezone="Asia/Tokyo",
        load_config=lambda: config,
        report_progress=progress if progress is not None else (lambda done, total: None),
        app_config={"HAIHAI_ALLOW_LOCAL_URLS": True},
    )


def test_every_customer_process_has_a_handler():
    for key in CUSTOMER_KEYS:
        assert get_process(key).handler is handlers.run_numbered
    assert get_process(CUSTOMER_PLUGIN).handler is handlers.run_from_plugin


def test_numbered_run_syncs_and_reports_counts(sandboxes, redis_conn):
    config, customers = sandboxes
    seen = []
    outcome = handlers.execute(
        context(config, "customer:1", 1, progress=lambda d, t: seen.append((d, t))),
        config.section("step5")[0],
        allow_local=True,
        redis_conn=redis_conn,
    )
    assert (outcome.processed, outcome.total) == (3, 3)
    assert outcome.message_detail.startswith("配配メールのジョブID: J")
    assert customers() == {
        "a@example.jp": {"7": "ok"},
        "b@example.jp": {"7": "ok"},
        "c@example.jp": {"7": "ok"},
    }
    assert seen[-1] == (3, 3)
    # Calls were charged to the shared daily budget.
    assert any(key.startswith(b"portal:budget:") for key in redis_conn.scan_iter())


def test_plugin_run_uses_the_list_view_filter(sandboxes, redis_conn):
    config, customers = sandboxes
    ctx = context(config, CUSTOMER_PLUGIN, params={"setting": 1, "query": 'area in ("西")'})
    setting = config.section("step5")[0]
    outcome = handlers.execute(
        ctx, setting, query_override=ctx.params["query"], allow_local=True, redis_conn=redis_conn
    )
    assert (outcome.processed, outcome.total) == (2, 2)
    assert set(customers()) == {"b@example.jp", "c@example.jp"}


def test_sync_errors_become_run_failures_with_the_message(sandboxes):
    config, _ = sandboxes
    broken = ConnectorConfig(
        **{
            **config.__dict__,
            "kintone": KintoneAccess(config.kintone.base_url, SUB, config.kintone.app_id, "bad"),
        }
    )
    with pytest.raises(RunFailed) as info:
        handlers.execute(
            context(broken, "customer:1", 1), broken.section("step5")[0], allow_local=True
        )
    assert info.value.code == "kintone_auth"
    assert "kintone APIトークン" in info.value.message


def test_setting_that_is_off_or_absent_fails_clearly(sandboxes):
    config, _ = sandboxes
    with pytest.raises(RunFailed, match="「連携しない」に設定されています"):
        handlers.find_setting(config, 2)
    with pytest.raises(RunFailed, match="顧客情報連携設定 5が見つかりません"):
        handlers.find_setting(config, 5)


def test_plugin_run_without_a_setting_number_fails(sandboxes):
    config, _ = sandboxes
    with pytest.raises(RunFailed, match="プラグインの設定"):
        handlers.run_from_plugin(context(config, CUSTOMER_PLUGIN, params={"query": ""}))
    with pytest.raises(RunFailed, match="顧客情報連携設定 9が見つかりません"):
        handlers.run_from_plugin(context(config, CUSTOMER_PLUGIN, params={"setting": "9"}))


@pytest.mark.parametrize("query", ['area in ("西") order by $id', "limit 1", "a in (LOGINUSER())"])
def test_plugin_run_refuses_a_query_that_is_not_a_pure_condition(sandboxes, query):
    """However the run was created, order by / limit never reach the read."""
    config, _ = sandboxes
    with pytest.raises(RunFailed) as raised:
        handlers.run_from_plugin(
            context(config, CUSTOMER_PLUGIN, params={"setting": 1, "query": query})
        )
    assert raised.value.code == "settings"
    assert "条件" in raised.value.message


def test_local_urls_are_refused_unless_allowed(sandboxes):
    config, _ = sandboxes
    with pytest.raises(RunFailed, match="接続先の設定が正しくありません"):
        handlers.make_clients(config, allow_local=False)


def test_handlers_run_inside_the_portal_app(app, sandboxes):
    from portal.queueing import close_redis

    config, customers = sandboxes
    with app.app_context():
        try:
            outcome = handlers.run_numbered(context(config, "customer:1", 1))
        finally:
            close_redis(app)
    assert outcome.total == 3
    assert len(customers()) == 3
