"""The kintone plugin's inbound endpoint over the real app, database and Redis (no worker).

Covers: wrong, revoked and other connectors' tokens; another connector's app; injected
conditions; the settings rules; double presses (also two at the same instant); status polling;
rate limits per token and per address; CORS limited to the connector's kintone origin; JSON
errors in Japanese; no CSRF token needed and no session touched.
"""

from __future__ import annotations

import secrets
import threading

import pytest
import redis
from sqlmodel import select

from portal.db import session_scope
from portal.models import Connector, Run
from portal.models.customer_syncs import CustomerSyncRow
from portal.models.runs import PLUGIN, QUEUED, SUCCEEDED
from portal.models.settings import ConnectorSettings
from portal.settings.service import issue_plugin_token
from tests.jobs.conftest import redis_url_with_db
from tests.support.accounts import create_account, sign_in

PLUGIN_REDIS_DB = 12
BASE = "/inbound/kintone-plugin/v1"
ORIGIN = "https://acme.cybozu.com"
LOG_NAME = "配配メール-kintone連携01 / 顧客情報連携 (kintoneからの実行)"


@pytest.fixture
def app_config(app_config, redis_url):
    """A Redis database of its own (queued jobs and rate-limit counters start empty)."""
    url = redis_url_with_db(redis_url, PLUGIN_REDIS_DB)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    conn.close()
    return {**app_config, "REDIS_URL": url, "WTF_CSRF_ENABLED": True}


def make_connector(app, owner: str, *, subdomain="acme", app_id="8", name=None) -> tuple[str, str]:
    """A connector with Step3 set and settings 1 (手動実行) and 2 (連携しない) → (id, token)."""
    account = create_account(app, owner)
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name=name or "配配メール-kintone連携01")
        session.add(connector)
        session.flush()
        session.add(
            ConnectorSettings(
                connector_id=connector.id, kintone_subdomain=subdomain, kintone_app_id=app_id
            )
        )
        session.add(CustomerSyncRow(connector_id=connector.id, number=1, timing="manual"))
        session.add(
            CustomerSyncRow(
                connector_id=connector.id,
                number=2,
                timing="off",
                target_type="group",
                target_id="12",
            )
        )
        session.commit()
        token = issue_plugin_token(session, connector)
        return connector.id, token


@pytest.fixture
def connector(app):
    return make_connector(app, "HC0001")


@pytest.fixture
def address() -> str:
    """A client address of this test alone (per-address counters never mix between tests)."""
    return f"127.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
def call(client, address):
    """`call(method, path, token=…, json=…, headers=…)` from the test's own address."""

    def _call(method: str, path: str, token: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return client.open(
            BASE + path,
            method=method,
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
            **kwargs,
        )

    return _call


def start(call, token, **body):
    payload = {"app": "8", "setting": 1, "condition": 'area in ("西")', **body}
    return call("POST", "/runs", token, json=payload)


def runs_of(app, connector_id: str) -> list[Run]:
    with app.app_context(), session_scope() as session:
        runs = session.exec(select(Run).where(Run.connector_id == connector_id)).all()
        for run in runs:
            session.expunge(run)
        return list(runs)


def error_of(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)
    return response.get_json()["error"]


# --- starting a run --------------------------------------------------------------------------


def test_start_creates_one_plugin_run_with_the_view_condition(app, call, connector):
    connector_id, token = connector
    response = start(call, token, condition='area in ("西") and 従業員数 >= 50')
    assert response.status_code == 202
    body = response.get_json()
    assert body["started"] is True and body["already_running"] is False
    assert body["status"] == QUEUED and body["status_label"] == "待機中"
    assert body["log_name"] == LOG_NAME
    assert response.headers["Location"].endswith(f"{BASE}/runs/{body['task_id']}")
    (run,) = runs_of(app, connector_id)
    assert run.id == body["task_id"]
    assert run.process_key == "customer_plugin" and run.trigger == PLUGIN
    assert run.params == {"setting": 1, "query": 'area in ("西") and 従業員数 >= 50'}
    # Queued for a worker exactly like a run from the 実行 page.
    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    assert conn.exists(f"rq:job:run-{run.id}")
    conn.close()


def test_empty_condition_means_every_record(app, call, connector):
    connector_id, token = connector
    assert start(call, token, condition="").status_code == 202
    assert runs_of(app, connector_id)[0].params["query"] == ""


def test_second_press_answers_the_running_run(app, call, connector):
    connector_id, token = connector
    first = start(call, token).get_json()
    second = start(call, token, setting="1")
    assert second.status_code == 200
    body = second.get_json()
    assert body["task_id"] == first["task_id"]
    assert body["started"] is False and body["already_running"] is True
    assert len(runs_of(app, connector_id)) == 1


def test_a_press_after_the_run_finished_starts_a_new_one(app, call, connector):
    connector_id, token = connector
    first = start(call, token).get_json()["task_id"]
    with app.app_context(), session_scope() as session:
        run = session.get(Run, first)
        run.status = SUCCEEDED
        session.add(run)
    second = start(call, token)
    assert second.status_code == 202
    assert second.get_json()["task_id"] != first
    assert len(runs_of(app, connector_id)) == 2


def test_two_presses_at_the_same_instant_start_one_run(app, connector, address):
    connector_id, token = connector
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def press() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"{BASE}/runs",
            json={"app": "8", "setting": 1, "condition": ""},
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": address},
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [200, 200, 200, 202]
    assert len(runs_of(app, connector_id)) == 1


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "abc.def", "x" * 300],
    ids=["empty", "no-dot", "unknown", "too-long"],
)
def test_wrong_tokens_are_refused_alike(app, call, connector, token):
    connector_id, _token = connector
    response = start(call, token)
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "invalid_token"
    assert "プラグイン用トークンが正しくありません" in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert runs_of(app, connector_id) == []


def test_missing_authorization_is_refused(app, call, connector):
    response = call("POST", "/runs", None, json={"app": "8", "setting": 1})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_revoked_token_is_refused_after_reissue(app, call, connector):
    connector_id, old = connector
    with app.app_context(), session_scope() as session:
        new = issue_plugin_token(session, session.get(Connector, connector_id))
    refused = start(call, old)
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "invalid_token"
    assert start(call, new).status_code == 202


def test_another_connectors_token_and_app(app, call, connector):
    mine_id, mine = connector
    other_id, other = make_connector(app, "HC0002", subdomain="other", app_id="21")
    # My token with the other connector's app: refused without naming the other connector.
    response = start(call, mine, app="21")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "app_mismatch"
    assert "アプリID: 21" in error["message"]
    assert "HC0002" not in response.get_data(as_text=True)
    assert other_id not in response.get_data(as_text=True)
    # Its token runs its own app only, and only its own runs are visible to it.
    own = start(call, other, app="21")
    assert own.status_code == 202
    task = own.get_json()["task_id"]
    assert call("GET", f"/runs/{task}", mine).status_code == 404
    assert call("GET", f"/runs/{task}", other).status_code == 200
    assert runs_of(app, mine_id) == []


@pytest.mark.parametrize(
    "condition",
    [
        'area in ("西") order by $id asc',
        'area in ("西") limit 500',
        "limit 1 offset 10",
        'area in ("西")) or ($id > 0',
        'area = "x" ; drop',
        "作成者 in (LOGINUSER())",
        '"unterminated',
        ["area = 1"],
    ],
)
def test_injected_conditions_are_refused(app, call, connector, condition):
    connector_id, token = connector
    response = start(call, token, condition=condition)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_condition"
    assert "条件" in error["message"]
    assert runs_of(app, connector_id) == []


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"setting": 2}, 409, "setting_disabled", "「連携しない」"),
        ({"setting": 7}, 404, "setting_not_found", "顧客情報連携設定 7は登録されていません"),
        ({"setting": 11}, 400, "invalid_setting", "1〜10"),
        ({"setting": True}, 400, "invalid_setting", "1〜10"),
        ({"app": "abc"}, 400, "invalid_app", "アプリID"),
        ({"app": None}, 400, "invalid_app", "アプリID"),
    ],
)
def test_settings_and_fields_are_checked(app, call, connector, body, status, code, words):
    connector_id, token = connector
    response = start(call, token, **body)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    assert words in error["message"]
    assert runs_of(app, connector_id) == []


def test_connector_without_a_kintone_app_is_told_so(app, call):
    _id, token = make_connector(app, "HC0003", app_id="")
    response = start(call, token)
    assert response.status_code == 409
    assert "Step3" in error_of(response)["message"]


def test_body_must_be_json(call, connector):
    _id, token = connector
    response = call("POST", "/runs", token, data="app=8&setting=1")
    assert response.status_code == 415
    assert "JSON" in error_of(response)["message"]
    response = call(
        "POST", "/runs", token, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_unknown_paths_and_methods_answer_json(call, connector):
    _id, token = connector
    missing = call("GET", "/nothing-here", token)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong_method = call("DELETE", "/runs", token)
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"


def test_no_csrf_token_and_no_session(app, client, call, connector):
    """CSRF is on for the app, yet the JSON endpoint works; the browser session is left alone."""
    _id, token = connector
    account = create_account(app, "HC0009")
    sign_in(client, account)
    response = start(call, token)
    assert response.status_code == 202
    assert "Set-Cookie" not in response.headers
    # A browser form post elsewhere in the portal still needs its CSRF token.
    assert client.post("/logout").status_code == 400


# --- status polling and the connection check --------------------------------------------------


def test_status_reports_counts_and_error_detail(app, call, connector):
    connector_id, token = connector
    task = start(call, token).get_json()["task_id"]
    with app.app_context(), session_scope() as session:
        from portal.runs import service as runs_service

        runs_service.mark_failed(session, task, "kintoneのAPIトークンが正しくありません。", "auth")
    response = call("GET", f"/runs/{task}", token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "failed" and body["status_label"] == "エラー"
    assert body["finished"] is True
    assert body["error_detail"] == "kintoneのAPIトークンが正しくありません。"
    assert body["task_id"] == task and body["setting"] == 1
    assert body["finished_at_text"].count("年") == 1
    assert response.headers["Cache-Control"] == "no-store"


def test_status_of_other_runs_is_not_found(app, call, connector):
    connector_id, token = connector
    with app.app_context(), session_scope() as session:
        manual = Run(connector_id=connector_id, process_key="customer:1")
        session.add(manual)
        session.flush()
        manual_id = manual.id
    for task in (manual_id, "01HZZZZZZZZZZZZZZZZZZZZZZZ", "x" * 40):
        response = call("GET", f"/runs/{task}", token)
        assert response.status_code == 404
        assert error_of(response)["message"] == "指定されたタスクIDの実行は見つかりません。"


def test_connection_lists_the_settings(call, connector):
    _id, token = connector
    body = call("GET", "/connection?app=8", token).get_json()
    assert body["connector"]["name"] == "配配メール-kintone連携01"
    assert body["app"] == {"requested": "8", "configured": "8", "matches": True}
    assert body["settings"] == [
        {
            "number": 1,
            "name": "顧客情報連携 1",
            "description": "顧客データベース・一括登録",
            "runnable": True,
        },
        {
            "number": 2,
            "name": "顧客情報連携 2",
            "description": "配信グループ指定（ID: 12）・一括登録",
            "runnable": False,
        },
    ]
    other = call("GET", "/connection?app=9", token).get_json()
    assert other["app"]["matches"] is False


# --- CORS ------------------------------------------------------------------------------------


def test_preflight_admits_kintone_origins_only(call):
    allowed = call(
        "OPTIONS",
        "/runs",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    for origin in ("https://evil.example.com", "https://acme.cybozu.com.evil.com", "null"):
        refused = call(
            "OPTIONS",
            "/runs",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert error_of(refused)["code"] == "origin_not_allowed"


def test_requests_from_the_connectors_origin_are_readable(call, connector):
    _id, token = connector
    response = call("GET", "/connection?app=8", token, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]


def test_another_kintone_domain_cannot_use_the_token(app, call, connector):
    connector_id, token = connector
    response = call(
        "POST",
        "/runs",
        token,
        json={"app": "8", "setting": 1, "condition": ""},
        headers={"Origin": "https://other.cybozu.com"},
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert runs_of(app, connector_id) == []


def test_server_side_calls_without_origin_get_no_cors_header(call, connector):
    _id, token = connector
    response = call("GET", "/connection?app=8", token)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


# --- rate limits -----------------------------------------------------------------------------


@pytest.fixture
def tight_limits(app):
    app.config.update(
        PLUGIN_RATE_LIMIT_PER_TOKEN="4 per minute",
        PLUGIN_RUN_STARTS_PER_TOKEN="2 per minute",
        INBOUND_AUTH_FAILURES_PER_ADDRESS="3 per minute",
        INBOUND_RATE_LIMIT_PER_ADDRESS="8 per minute",
    )


def test_requests_per_token_are_limited(app, client, call, connector, tight_limits):
    _id, token = connector
    for _ in range(4):
        assert call("GET", "/connection?app=8", token).status_code == 200
    limited = call("GET", "/connection?app=8", token)
    assert limited.status_code == 429
    error = error_of(limited)
    assert error["code"] == "rate_limited"
    assert "しばらく待ってから" in error["message"]
    assert int(limited.headers["Retry-After"]) > 0
    # Another connector's token is counted on its own.
    _other_id, other = make_connector(app, "HC0002", subdomain="other", app_id="21")
    assert call("GET", "/connection?app=21", other).status_code == 200


def test_run_starts_per_token_are_limited(app, call, connector, tight_limits):
    _id, token = connector
    assert start(call, token).status_code == 202
    assert start(call, token).status_code == 200  # the running one
    limited = start(call, token)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"


def test_token_guessing_from_one_address_is_cut_off(app, client, call, connector, tight_limits):
    _id, token = connector
    for attempt in range(3):
        assert call("GET", "/connection", f"guess.{attempt}").status_code == 401
    # Refused answers used the address's budget: even a right token now waits.
    assert call("GET", "/connection?app=8", token).status_code == 429
    # Another address is not affected.
    other = client.get(
        f"{BASE}/connection?app=8",
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert other.status_code == 200


def test_requests_per_address_are_limited(app, call, connector, tight_limits):
    tokens = [make_connector(app, f"HC01{n:02d}", app_id="8")[1] for n in range(3)]
    answers = [call("GET", "/connection?app=8", tokens[n % 3]).status_code for n in range(9)]
    assert answers == [200] * 8 + [429]


# --- Redis unreachable -------------------------------------------------------------------------


def test_unreachable_redis_answers_503_and_creates_nothing(app_config, connector, address):
    """Limits and the start lock live in Redis: without it nothing is started, the answer says so."""
    from portal import create_app

    connector_id, token = connector
    broken = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        response = broken.test_client().post(
            f"{BASE}/runs",
            json={"app": "8", "setting": 1, "condition": ""},
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 503
        assert "一時的にリクエストを処理できません" in error_of(response)["message"]
        assert runs_of(broken, connector_id) == []
    finally:
        broken.extensions["db_engine"].dispose()
