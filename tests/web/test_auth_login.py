"""F-AUTH-1: the login form, its messages, throttling and temporary locks."""

from __future__ import annotations

import datetime as dt
import re
import threading

import sqlalchemy as sa

from portal import create_app
from portal.auth import service, throttle
from portal.db import session_scope
from portal.models.accounts import Account, LoginThrottle
from portal.models.common import utcnow
from tests.support.accounts import DEFAULT_PASSWORD, create_account, login

GENERIC = "配配メールコネクタ ID またはパスワードが正しくありません。"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _normalised(response, typed_id: str) -> str:
    page = _text(response).replace(typed_id, "X")
    return re.sub(r'("X-CSRFToken": "|name="csrf_token" type="hidden" value=")[^"]*', r"\1", page)


def test_login_page_shows_the_manuals_fields_and_button(client):
    page = _text(client.get("/login"))
    assert "配配メールコネクタ ID" in page
    assert "パスワード" in page
    assert ">続ける</button>" in page
    assert 'lang="ja"' in page


def test_anonymous_visit_of_the_list_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_correct_login_opens_the_connector_list_and_records_the_time(app, client):
    create_account(app, "HC0001")
    response = login(client, "HC0001")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "コネクター一覧" in _text(page)
    with app.app_context(), session_scope() as session:
        account = service.find_account(session, "HC0001")
        assert account.last_login_at is not None
        assert utcnow() - account.last_login_at < dt.timedelta(minutes=1)


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(app, client):
    create_account(app, "HC0001")
    asked = client.get("/?page=2")
    assert asked.headers["Location"] == "/login?next=/?page%3D2"
    response = client.post(
        "/login?next=/some/page%3Fa%3D1",
        data={"connector_id": "HC0001", "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/some/page?a=1"
    client.post("/logout")
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/login",
            query_string={"next": hostile},
            data={"connector_id": "HC0001", "password": DEFAULT_PASSWORD},
        )
        assert response.headers["Location"] == "/", hostile
        client.post("/logout")


def test_wrong_password_and_unknown_id_give_the_same_message(app, client):
    create_account(app, "HC0001")
    wrong = login(client, "HC0001", "Wrong#Pass1")
    unknown = login(client, "NOPE999", "Wrong#Pass1")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert GENERIC in _text(response)
        # The typed password is never sent back.
        assert "Wrong#Pass1" not in _text(response)
    # Only the typed ID (and the per-render CSRF token) differs between the two pages.
    assert _normalised(wrong, "HC0001") == _normalised(unknown, "NOPE999")


def test_empty_fields_are_refused_with_japanese_messages(client):
    response = client.post("/login", data={"connector_id": "  ", "password": ""})
    assert response.status_code == 422
    page = _text(response)
    assert "配配メールコネクタ ID を入力してください。" in page
    assert "パスワードを入力してください。" in page


def test_disabled_account_cannot_sign_in(app, client):
    create_account(app, "HC0001", disabled=True)
    response = login(client, "HC0001")
    assert response.status_code == 403
    assert "利用停止されています" in _text(response)
    assert client.get("/").status_code == 302


def test_five_failures_lock_the_id_and_the_page_says_until_when(app, client):
    create_account(app, "HC0001")
    for _ in range(4):
        assert login(client, "HC0001", "Wrong#Pass1").status_code == 401
    fifth = login(client, "HC0001", "Wrong#Pass1")
    assert fifth.status_code == 429
    page = _text(fifth)
    assert "一時的にロックされています" in page
    with app.app_context(), session_scope() as session:
        until = session.get(LoginThrottle, "id:HC0001").locked_until
    assert dt.timedelta(minutes=14) < until - utcnow() <= dt.timedelta(minutes=15)
    local = until.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert local.strftime("%Y年%m月%d日 %H:%M:%S") + " 以降に再度ログインしてください。" in page
    assert 0 < int(fifth.headers["Retry-After"]) <= 15 * 60 + 1

    # Even the right password is refused while the lock holds.
    locked = login(client, "HC0001")
    assert locked.status_code == 429
    assert "一時的にロックされています" in _text(locked)
    assert client.get("/").status_code == 302


def test_unknown_ids_are_locked_like_real_ones(client):
    for _ in range(4):
        login(client, "NOPE999", "Wrong#Pass1")
    assert "一時的にロックされています" in _text(login(client, "NOPE999", "Wrong#Pass1"))


def test_the_lock_ends_and_a_success_resets_the_count(app, client):
    create_account(app, "HC0001")
    for _ in range(5):
        login(client, "HC0001", "Wrong#Pass1")
    with app.app_context(), session_scope() as session:
        row = session.get(LoginThrottle, "id:HC0001")
        row.locked_until = utcnow() - dt.timedelta(seconds=1)
        session.add(row)
    assert login(client, "HC0001").status_code == 302
    client.post("/logout")
    with app.app_context(), session_scope() as session:
        assert session.get(LoginThrottle, "id:HC0001") is None
    # A fresh count: four more failures do not lock.
    for _ in range(4):
        assert login(client, "HC0001", "Wrong#Pass1").status_code == 401


def test_many_failures_from_one_address_throttle_that_address(app_config):
    app = create_app({**app_config, "LOGIN_MAX_FAILURES_PER_ADDRESS": 6})
    try:
        create_account(app, "HC0001")
        spraying = app.test_client()
        # Different IDs each time: only the address counter grows.
        for number in range(5):
            assert login(spraying, f"ID{number}", "Wrong#Pass1").status_code == 401
        sixth = login(spraying, "ID5", "Wrong#Pass1")
        assert sixth.status_code == 429
        assert "このネットワークからのログインの失敗が続いたため" in _text(sixth)
        # The right credentials from that address wait too; another address is not affected.
        assert login(spraying, "HC0001").status_code == 429
        other = app.test_client()
        other_address = {"REMOTE_ADDR": "192.0.2.7"}
        assert login(other, "HC0001", environ_base=other_address).status_code == 302
    finally:
        app.extensions["db_engine"].dispose()


def test_counters_are_shared_by_separate_web_processes(app_config):
    # Two apps with their own engines stand for two gunicorn workers on one database.
    first, second = create_app(app_config), create_app(app_config)
    try:
        create_account(first, "HC0001")
        clients = [first.test_client(), second.test_client()]
        for attempt in range(4):
            assert login(clients[attempt % 2], "HC0001", "Wrong#Pass1").status_code == 401
        assert login(clients[0], "HC0001", "Wrong#Pass1").status_code == 429
        assert login(clients[1], "HC0001").status_code == 429
    finally:
        first.extensions["db_engine"].dispose()
        second.extensions["db_engine"].dispose()


def test_concurrent_failures_are_all_counted(app):
    rule = throttle.ThrottleRule(1000, dt.timedelta(minutes=15), dt.timedelta(minutes=15))
    errors: list[BaseException] = []

    def fail_five_times() -> None:
        try:
            with app.app_context():
                for _ in range(5):
                    with session_scope() as session:
                        throttle.record_failure(session, "id:RACE", rule, utcnow())
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=fail_five_times) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context(), session_scope() as session:
        assert session.get(LoginThrottle, "id:RACE").failures == 20


def test_failures_outside_the_window_start_a_new_count(app):
    rule = throttle.ThrottleRule(3, dt.timedelta(minutes=15), dt.timedelta(minutes=15))
    start = utcnow()
    with app.app_context(), session_scope() as session:
        assert throttle.record_failure(session, "id:W", rule, start) is None
        assert (
            throttle.record_failure(session, "id:W", rule, start + dt.timedelta(minutes=1)) is None
        )
        later = start + dt.timedelta(minutes=20)
        assert throttle.record_failure(session, "id:W", rule, later) is None
        assert session.get(LoginThrottle, "id:W").failures == 1
        assert throttle.record_failure(session, "id:W", rule, later) is None
        until = throttle.record_failure(session, "id:W", rule, later)
        assert until == later + dt.timedelta(minutes=15)
        assert throttle.active_lock(session, "id:W", later) == until
        assert throttle.active_lock(session, "id:W", until) is None


def test_old_counters_are_pruned_but_active_locks_stay(app):
    now = utcnow()
    old = now - dt.timedelta(days=2)
    with app.app_context(), session_scope() as session:
        session.add(LoginThrottle(key="id:old", failures=2, window_started_at=old))
        session.add(
            LoginThrottle(
                key="id:locked", window_started_at=old, locked_until=now + dt.timedelta(minutes=5)
            )
        )
        session.add(LoginThrottle(key="id:recent", failures=1, window_started_at=now))
    with app.app_context(), session_scope() as session:
        throttle.prune(session, now, dt.timedelta(days=1))
    with app.app_context(), session_scope() as session:
        keys = set(session.execute(sa.select(LoginThrottle.key)).scalars())
    assert keys == {"id:locked", "id:recent"}


def test_successful_login_upgrades_an_outdated_hash(app, client):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DEFAULT_PASSWORD)
    account = create_account(app, "HC0001")
    with app.app_context(), session_scope() as session:
        stored = session.get(Account, account.id)
        stored.password_hash = weak
        session.add(stored)
    assert login(client, "HC0001").status_code == 302
    with app.app_context(), session_scope() as session:
        upgraded = session.get(Account, account.id).password_hash
    assert upgraded != weak and upgraded.startswith("$argon2id$v=19$m=65536")


def test_signed_in_visit_of_the_login_page_goes_to_the_list(app, client):
    create_account(app, "HC0001")
    login(client, "HC0001")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
