"""顧客閲覧URL連携 against both sandboxes over real HTTP (ConnectorConfig built directly)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import requests

from portal.connector_types.haihai_kintone.stop_ban.config import FieldRule, StopBanSetting
from portal.connector_types.haihai_kintone.view_url.config import VIEW_URL, ViewUrlSetting
from portal.connector_types.haihai_kintone.view_url.sync import (
    make_clients,
    run_view_url,
    sync_view_urls,
)
from portal.connector_types.registry import get_process
from portal.queueing import get_redis
from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess
from portal.syncs.context import RunContext, RunFailed
from tests.conftest import TEST_FERNET_KEY

SUB = "example"
ACCOUNT = "m30001"


class Sandboxes:
    """Set-up helpers for one kintone app and one 配配メール account."""

    def __init__(self, kintone: str, haihai: str) -> None:
        self.kintone = kintone
        self.haihai = haihai
        self.http = requests.Session()
        fields = {
            "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
            "url": {"type": "LINK", "label": "配配メールURL", "protocol": "WEB"},
            "memo": {"type": "MULTI_LINE_TEXT", "label": "メモ"},
            "count": {"type": "NUMBER", "label": "回数"},
        }
        self.app = self.post(kintone, "apps", {"subdomain": SUB, "fields": fields})["app"]
        self.token = self.post(
            kintone, "tokens", {"subdomain": SUB, "app": self.app, "permissions": ["view", "edit"]}
        )["token"]
        self.post(
            haihai,
            "accounts",
            {
                "account_key": ACCOUNT,
                "users": [{"login_id": "u1", "email": "u1@example.jp", "api_token": "tk"}],
            },
        )

    def post(self, base: str, path: str, body: dict) -> dict:
        response = self.http.post(f"{base}/_sandbox/{path}", json=body, timeout=60)
        assert response.status_code < 300, response.text
        return response.json()

    def add_customers(self, emails: list[str]) -> dict[str, str]:
        for start in range(0, len(emails), 5000):
            batch = [{"email": e} for e in emails[start : start + 5000]]
            self.post(self.haihai, "customers", {"account": ACCOUNT, "customers": batch})
        listed = self.http.get(
            f"{self.haihai}/_sandbox/customers",
            params={"account": ACCOUNT, "limit": 100000},
            timeout=60,
        ).json()["customers"]
        return {c["email"]: c["view_url"] for c in listed}

    def add_records(self, records: list[dict]) -> None:
        self.post(self.kintone, "records", {"subdomain": SUB, "app": self.app, "records": records})

    def records(self) -> list[dict]:
        response = self.http.get(
            f"{self.kintone}/_sandbox/records",
            params={"subdomain": SUB, "app": self.app},
            timeout=60,
        )
        return response.json()["records"]

    def kintone_calls(self) -> dict[str, int]:
        return self.http.get(
            f"{self.kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30
        ).json()["calls"]

    def config(self, target: str | None = "url", **changes) -> ConnectorConfig:
        values = {
            "connector_id": "c1",
            "name": "配配メール-kintone連携",
            "kintone": KintoneAccess(f"{self.kintone}/{SUB}", SUB, self.app, self.token),
            "haihai": HaihaiAccess(f"{self.haihai}/{ACCOUNT}/", "u1", "tk"),
            "mappings": (
                FieldMapping(
                    "mail", "SINGLE_LINE_TEXT", "メールアドレス", "メールアドレス", is_email=True
                ),
            ),
            "sections": {"step7": ViewUrlSetting(timing="manual", target_field=target)},
        }
        values.update(changes)
        return ConnectorConfig(**values)


@pytest.fixture
def world(kintone_sandbox, haihai_sandbox):
    sandboxes = Sandboxes(kintone_sandbox, haihai_sandbox)
    yield sandboxes
    sandboxes.http.close()


@pytest.fixture
def portal_app(tmp_path, redis_url):
    """An app context for the run handler (config, Redis for the daily budgets)."""
    from portal import create_app
    from portal.queueing import close_redis

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "REDIS_URL": redis_url,
            "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
            "HAIHAI_ALLOW_LOCAL_URLS": True,
        }
    )
    with app.app_context():
        yield app
    close_redis(app)
    app.extensions["db_engine"].dispose()


def run(config: ConnectorConfig, progress=None):
    kintone, haihai = make_clients(config, allow_local=True)
    try:
        return sync_view_urls(config, kintone=kintone, haihai=haihai, progress=progress)
    finally:
        kintone.close()
        haihai.close()


def context(config: ConnectorConfig, seen: list | None = None) -> RunContext:
    return RunContext(
        run_id="01GPZ6JAJF3N45A29JD3WN3B4D",
        connector_id=config.connector_id,
        process_key=VIEW_URL,
        process_number=None,
        trigger="manual",
        params={},
        started_at=dt.datetime.now(dt.UTC),
        timezone="Asia/Tokyo",
        load_config=lambda: config,
        report_progress=(lambda d, t: seen.append((d, t)))
        if seen is not None
        else (lambda d, t: None),
        redis=get_redis(),
        app_config={"HAIHAI_ALLOW_LOCAL_URLS": True},
    )


def test_view_url_is_the_registered_handler():
    assert get_process(VIEW_URL).handler is run_view_url
    assert get_process(VIEW_URL).name == "顧客閲覧URL連携"


def test_urls_go_to_matching_records_and_only_changes_are_written(world):
    urls = world.add_customers(["a@example.jp", "c@Example.jp", "same@example.jp", "b@example.jp"])
    world.add_records(
        [
            {"mail": {"value": "a@example.jp"}},
            {"mail": {"value": "c@EXAMPLE.jp"}},  # domain case differs: same mailbox
            {"mail": {"value": "B@example.jp"}},  # local part case differs: another mailbox
            {"mail": {"value": "same@example.jp"}, "url": {"value": urls["same@example.jp"]}},
            {"mail": {"value": "nobody@example.jp"}},
            {"mail": {"value": ""}},
        ]
    )
    before = world.kintone_calls()
    seen: list[tuple[int, int]] = []
    result = run(world.config(), progress=lambda d, t: seen.append((d, t)))

    assert (result.processed, result.read, result.matched, result.updated) == (6, 6, 3, 2)
    by_mail = {r["mail"]["value"]: r["url"]["value"] for r in world.records()}
    assert by_mail == {
        "a@example.jp": urls["a@example.jp"],
        "c@EXAMPLE.jp": urls["c@Example.jp"],
        "B@example.jp": "",
        "same@example.jp": urls["same@example.jp"],
        "nobody@example.jp": "",
        "": "",
    }
    calls = world.kintone_calls()
    assert (
        calls.get("POST /k/v1/bulkRequest.json", 0) - before.get("POST /k/v1/bulkRequest.json", 0)
        == 1
    )
    assert seen[-1] == (6, 6)

    # Nothing changed since: the second run reads but writes nothing.
    again = run(world.config())
    assert (again.processed, again.read, again.updated) == (6, 6, 0)
    assert (
        world.kintone_calls().get("POST /k/v1/bulkRequest.json")
        == calls["POST /k/v1/bulkRequest.json"]
    )


def test_a_multi_line_text_field_can_receive_the_url(world):
    urls = world.add_customers(["a@example.jp"])
    world.add_records([{"mail": {"value": "a@example.jp"}}])
    result = run(world.config(target="memo"))
    assert result.updated == 1
    assert world.records()[0]["memo"]["value"] == urls["a@example.jp"]


def test_writes_go_in_bulk_calls_of_2000_records_with_progress(world):
    emails = [f"user{n:05d}@example.jp" for n in range(4500)]
    world.add_customers(emails)
    world.add_records([{"mail": {"value": e}} for e in emails])
    before = world.kintone_calls().get("POST /k/v1/bulkRequest.json", 0)
    seen: list[tuple[int, int]] = []
    result = run(world.config(), progress=lambda d, t: seen.append((d, t)))
    assert (result.processed, result.read, result.updated) == (4500, 4500, 4500)
    assert world.kintone_calls()["POST /k/v1/bulkRequest.json"] - before == 3  # 2000 + 2000 + 500
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    assert all(total == 4500 for _, total in seen)
    assert seen[-1] == (4500, 4500)
    assert all(r["url"]["value"].startswith(world.haihai) for r in world.records())


def test_handler_reports_zero_of_zero_for_an_empty_app(world, portal_app):
    world.add_customers(["a@example.jp"])
    outcome = run_view_url(context(world.config()))
    assert (outcome.processed, outcome.total) == (0, 0)


def test_handler_counts_and_progress_through_the_run_context(world, portal_app):
    world.add_customers(["a@example.jp", "b@example.jp"])
    world.add_records([{"mail": {"value": "a@example.jp"}}, {"mail": {"value": "x@example.jp"}}])
    seen: list[tuple[int, int]] = []
    outcome = run_view_url(context(world.config(), seen))
    assert (outcome.processed, outcome.total, outcome.message_detail) == (2, 2, None)
    assert seen[-1] == (2, 2)


def test_wrong_kintone_token_ends_with_a_message_naming_step3(world, portal_app):
    world.add_customers(["a@example.jp"])
    config = world.config(
        kintone=KintoneAccess(f"{world.kintone}/{SUB}", SUB, world.app, "wrong-token")
    )
    with pytest.raises(RunFailed) as failed:
        run_view_url(context(config))
    assert failed.value.code == "kintone_auth"
    assert "kintone APIトークンが正しくありません" in failed.value.message
    assert "Step3" in failed.value.message


def test_a_wrong_app_id_ends_with_a_message_naming_the_app_not_permissions(world, portal_app):
    config = world.config()
    wrong = dataclasses.replace(config.kintone, app_id="999")
    with pytest.raises(RunFailed) as failed:
        run_view_url(context(dataclasses.replace(config, kintone=wrong)))
    assert failed.value.code == "kintone_app"
    assert "kintoneアプリ（アプリID: 999）にアクセスできません" in failed.value.message


def test_haihai_credentials_refused_end_with_the_clients_message(world, portal_app):
    world.add_records([{"mail": {"value": "a@example.jp"}}])
    config = world.config(haihai=HaihaiAccess(f"{world.haihai}/{ACCOUNT}/", "u1", "bad"))
    with pytest.raises(RunFailed) as failed:
        run_view_url(context(config))
    assert failed.value.code == "haihai_auth"
    assert "ログインIDまたはAPIトークンが正しくありません" in failed.value.message


def test_missing_or_unsuitable_target_field_stops_before_writing(world, portal_app):
    world.add_customers(["a@example.jp"])
    world.add_records([{"mail": {"value": "a@example.jp"}}])
    with pytest.raises(RunFailed) as missing:
        run_view_url(context(world.config(target="gone")))
    assert missing.value.code == "field_missing" and "gone" in missing.value.message
    with pytest.raises(RunFailed) as wrong_type:
        run_view_url(context(world.config(target="count")))
    assert wrong_type.value.code == "field_type" and "「回数」" in wrong_type.value.message
    with pytest.raises(RunFailed) as unset:
        run_view_url(context(world.config(target=None)))
    assert "Step7" in unset.value.message
    assert world.records()[0]["url"]["value"] == ""


def test_a_target_another_process_uses_ends_in_error_before_anything_is_read(world, portal_app):
    """A target that is the mail-address key, a Step4 field or a Step6 field is refused at run
    time too (settings saved before the rule, or changed since): nothing is written."""
    world.add_customers(["a@example.jp"])
    world.add_records([{"mail": {"value": "a@example.jp"}, "memo": {"value": "メモ"}}])
    email = FieldMapping("mail", "SINGLE_LINE_TEXT", "メールアドレス", "メールアドレス", True)
    memo = FieldMapping("memo", "MULTI_LINE_TEXT", "メモ", "メモ")
    fields = {
        "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
        "memo": {"type": "MULTI_LINE_TEXT", "label": "メモ"},
        "url": {"type": "LINK", "label": "配配メールURL"},
    }
    stop = StopBanSetting(
        timing="manual", stop=FieldRule("url", "LINK", ("停止",)), ban=FieldRule("url", "LINK")
    )
    cases = {
        "mail": ({}, "「メールアドレス」はメールアドレスの連携に使用している項目です"),
        "memo": ({}, "「メモ」はStep4の連携項目に設定されている項目です"),
        "url": ({"step6": stop}, "「配配メールURL」はStep6の配信停止連携に設定されている項目です"),
    }
    before = world.kintone_calls()
    for target, (sections, expected) in cases.items():
        config = world.config(
            target=target,
            mappings=(email, memo),
            kintone_fields=fields,
            sections={"step7": ViewUrlSetting(timing="manual", target_field=target), **sections},
        )
        with pytest.raises(RunFailed) as failed:
            run_view_url(context(config))
        assert failed.value.code == "settings"
        assert expected in failed.value.message and "Step7" in failed.value.message
    assert world.kintone_calls() == before
    record = world.records()[0]
    assert (record["mail"]["value"], record["memo"]["value"]) == ("a@example.jp", "メモ")
    assert record["url"]["value"] == ""


def test_a_refused_kintone_write_ends_in_error_with_partial_counts(world, portal_app):
    emails = [f"user{n:04d}@example.jp" for n in range(2500)]
    world.add_customers(emails)
    world.add_records([{"mail": {"value": e}} for e in emails])
    world.post(
        world.kintone,
        "config",
        {
            "faults": [
                {"path": "/k/v1/bulkRequest.json", "status": 400, "code": "CB_VA01", "times": 1}
            ]
        },
    )
    with pytest.raises(RunFailed) as failed:
        run_view_url(context(world.config()))
    assert failed.value.code == "kintone_write"
    assert "顧客閲覧URLを書き込めませんでした" in failed.value.message
    assert failed.value.total == 2500
    assert 0 <= failed.value.processed < 2500


def test_a_kintone_server_error_is_reported_as_such_not_as_unreachable(world, portal_app):
    # Issue #14: a 5xx used to read 「kintoneに接続できませんでした…サブドメイン名…」.
    world.add_customers(["a@example.jp"])
    world.add_records([{"mail": {"value": "a@example.jp"}}])
    world.post(
        world.kintone,
        "config",
        {"faults": [{"path": "/k/v1/app/form/fields.json", "status": 500, "times": 100}]},
    )
    with pytest.raises(RunFailed) as failed:
        run_view_url(context(world.config()))
    assert failed.value.code == "kintone_server"
    assert failed.value.message == (
        "kintoneでサーバーエラーが発生しました（HTTP 500）。時間を置いて再度実行してください。"
    )
    assert world.records()[0]["url"]["value"] == ""


@pytest.mark.parametrize("early_limit", [300, 50_000])
def test_records_read_while_the_urls_load_are_kept_and_handled(world, monkeypatch, early_limit):
    """The 配配メール URLs load in a thread while kintone is read; records read meanwhile wait
    (up to EARLY_RECORDS, then the read waits too) and are all compared and written."""
    from portal.connector_types.haihai_kintone.view_url import sync as view_url_sync

    monkeypatch.setattr(view_url_sync, "EARLY_RECORDS", early_limit)
    emails = [f"user{i}@example.jp" for i in range(1_500)]
    urls = world.add_customers(emails[::2])  # every other address is a customer
    world.add_records([{"mail": {"value": e}} for e in emails])
    world.post(world.haihai, "config", {"latency_ms": 600})  # the URL list is the slow side
    seen: list[tuple[int, int]] = []
    try:
        result = run(world.config(), progress=lambda d, t: seen.append((d, t)))
    finally:
        world.post(world.haihai, "config", {"latency_ms": 0})
    assert (result.read, result.processed, result.matched, result.updated) == (1500, 1500, 750, 750)
    by_mail = {r["mail"]["value"]: r["url"]["value"] for r in world.records()}
    assert by_mail == {e: urls.get(e, "") for e in emails}
    assert all(done <= total for done, total in seen) and seen[-1] == (1500, 1500)
