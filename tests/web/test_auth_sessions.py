"""F-AUTH-3 and F-AUTH-6: logout, CSRF, cookie flags, idle timeout and expired htmx requests."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from portal import create_app
from portal.auth import service, sessions
from portal.auth.views import SESSION_TOKEN_KEY
from portal.db import session_scope
from portal.models.accounts import LoginSession
from portal.models.common import utcnow
from portal.models.connectors import Connector
from tests.support.accounts import create_account, login, sign_in

HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/?page=2"}


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def csrf_app(app_config):
    """The portal with CSRF protection switched on, as in production."""
    application = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    yield application
    application.extensions["db_engine"].dispose()


def _hidden_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _header_token(page: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


# --- logout ----------------------------------------------------------------------------------


def test_logout_ends_the_session_and_says_so(app, client):
    create_account(app, "HC0001")
    login(client, "HC0001")
    assert "LOGOUT" in _text(client.get("/"))
    response = client.post("/logout")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "ログアウトしました" in _text(page)
    assert 'href="/login"' in _text(page)
    assert client.get("/").headers["Location"] == "/login"


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    target.set_cookie("session", cookie.value, domain=cookie.domain)


def test_a_copied_session_cookie_stops_working_after_logout(app, client):
    create_account(app, "HC0001")
    login(client, "HC0001")
    thief = app.test_client()
    _copy_cookie(client, thief)
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    client.post("/logout")
    assert thief.get("/").headers["Location"] == "/login"
    assert thief.post("/connectors", data={"name": "after logout"}).status_code == 302
    with app.app_context(), session_scope() as session:
        assert session.exec(select(Connector)).all() == []
        assert session.exec(select(LoginSession)).all() == []


def test_logout_ends_only_the_session_of_that_browser(app, client):
    create_account(app, "HC0001")
    login(client, "HC0001")
    other_browser = app.test_client()
    login(other_browser, "HC0001")
    client.post("/logout")
    assert client.get("/").status_code == 302
    assert other_browser.get("/").status_code == 200


def test_a_signed_identity_without_a_live_server_session_is_anonymous(app, client):
    account = create_account(app, "HC0001")
    with client.session_transaction() as session:
        session["_user_id"] = account.get_id()
        session[SESSION_TOKEN_KEY] = "forged-or-ended-token"
    assert client.get("/").headers["Location"] == "/login"


def test_signing_in_again_replaces_the_previous_server_session(app, client):
    account = create_account(app, "HC0001")
    login(client, "HC0001")
    stale = app.test_client()
    _copy_cookie(client, stale)
    client.post("/logout")
    login(client, "HC0001")
    assert stale.get("/").status_code == 302
    with app.app_context(), session_scope() as session:
        assert sessions.count(session, account.id) == 1


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405


# --- CSRF ------------------------------------------------------------------------------------


def test_forms_without_a_csrf_token_are_refused(csrf_app):
    create_account(csrf_app, "HC0001")
    client = csrf_app.test_client()
    refused = login(client, "HC0001")
    assert refused.status_code == 400
    assert "画面の有効期限が切れました。もう一度操作してください。" in _text(refused)
    token = _hidden_token(_text(client.get("/login")))
    data = {"connector_id": "HC0001", "password": "Portal#Test2024", "csrf_token": token}
    assert client.post("/login", data=data).headers["Location"] == "/"


def test_htmx_requests_need_the_header_token(csrf_app):
    account = create_account(csrf_app, "HC0001")
    client = csrf_app.test_client()
    sign_in(client, account)
    page = _text(client.get("/"))
    refused = client.post("/connectors", data={"name": "A"}, headers=HX)
    assert refused.status_code == 400
    # Reloaded as a whole page, never swapped into the form.
    assert refused.headers["HX-Redirect"] == "/?page=2"
    assert _text(refused) == ""
    accepted = client.post(
        "/connectors", data={"name": "A"}, headers={**HX, "X-CSRFToken": _header_token(page)}
    )
    assert accepted.headers["HX-Redirect"].endswith("/settings")
    with csrf_app.app_context(), session_scope() as session:
        names = [c.name for c in session.exec(select(Connector)).all()]
    assert names == ["A"]


def test_logout_without_a_token_keeps_the_session(csrf_app):
    account = create_account(csrf_app, "HC0001")
    client = csrf_app.test_client()
    sign_in(client, account)
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


# --- cookies ---------------------------------------------------------------------------------


def test_session_cookie_flags_follow_the_configuration(app_config):
    application = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    try:
        create_account(application, "HC0001")
        response = login(application.test_client(), "HC0001", base_url="https://localhost")
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=Lax" in cookie
    finally:
        application.extensions["db_engine"].dispose()


def test_secure_cookies_are_the_default_of_the_configuration(monkeypatch, tmp_path):
    from portal.config import load_config

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["IDLE_TIMEOUT_MINUTES"] == 30


# --- expiry ----------------------------------------------------------------------------------


def test_anonymous_htmx_request_gets_a_whole_page_redirect_to_login(client):
    response = client.get("/", headers=HX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/?page%3D2"
    assert _text(response) == ""


def test_htmx_redirect_ignores_a_current_url_of_another_site(client):
    response = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "https://evil/x"})
    assert response.headers["HX-Redirect"] == "/login"


def _age_session(client, seconds: float, *, created_seconds_ago: float | None = None) -> None:
    """Move the server-side clock of `client`'s session `seconds` into the past."""
    with client.session_transaction() as cookie:
        token = cookie[SESSION_TOKEN_KEY]
    with client.application.app_context(), session_scope() as session:
        row = session.get(LoginSession, sessions.token_hash(token))
        row.last_seen_at = utcnow() - dt.timedelta(seconds=seconds)
        if created_seconds_ago is not None:
            row.created_at = utcnow() - dt.timedelta(seconds=created_seconds_ago)
        session.add(row)


def test_idle_session_expires_after_the_configured_minutes(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    _age_session(client, 29 * 60)
    assert client.get("/").status_code == 200  # activity: the clock starts again
    _age_session(client, 31 * 60)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    page = _text(client.get("/login"))
    assert "一定時間操作がなかったため、ログアウトしました。" in page
    assert client.get("/").status_code == 302


def test_activity_does_not_keep_a_session_beyond_its_lifetime(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    _age_session(client, 60, created_seconds_ago=11 * 3600)
    assert client.get("/").status_code == 200
    _age_session(client, 60, created_seconds_ago=12 * 3600 + 60)
    assert client.get("/").headers["Location"] == "/login"


def test_the_idle_clock_is_kept_on_the_server(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    _age_session(client, 60)
    assert client.get("/").status_code == 200
    with client.session_transaction() as cookie:
        token = cookie[SESSION_TOKEN_KEY]
    with app.app_context(), session_scope() as session:
        row = session.get(LoginSession, sessions.token_hash(token))
        assert (utcnow() - row.last_seen_at).total_seconds() < 5


def test_idle_htmx_request_is_redirected_to_login_as_a_whole_page(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    _age_session(client, 31 * 60)
    response = client.post("/connectors", data={"name": "late"}, headers=HX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/?page%3D2"
    with app.app_context(), session_scope() as session:
        assert session.exec(select(Connector)).all() == []


def test_idle_timeout_is_configurable(app_config):
    application = create_app({**app_config, "IDLE_TIMEOUT_MINUTES": 1})
    try:
        account = create_account(application, "HC0001")
        client = application.test_client()
        sign_in(client, account)
        _age_session(client, 50)
        assert client.get("/").status_code == 200
        _age_session(client, 61)
        assert client.get("/").status_code == 302
    finally:
        application.extensions["db_engine"].dispose()


def test_static_files_do_not_touch_the_session(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    _age_session(client, 31 * 60)
    response = client.get("/static/portal.js")
    assert response.status_code == 200
    response.close()
    with client.session_transaction() as session:
        assert "_user_id" in session  # not ended by an asset request, nor renewed


def test_disabling_an_account_ends_its_session(app, client):
    account = create_account(app, "HC0001")
    login(client, "HC0001")
    with app.app_context(), session_scope() as session:
        service.set_disabled(session, "HC0001", True)
    assert client.get("/").headers["Location"] == "/login"
    with app.app_context(), session_scope() as session:
        service.set_disabled(session, "HC0001", False)
    # Re-enabling does not revive the old session (its version is gone).
    sign_in(client, account)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("identity", ["garbage", "1", "1:x", ":1", "999:1"])
def test_malformed_or_unknown_session_identities_are_anonymous(app, client, identity):
    create_account(app, "HC0001")
    with client.session_transaction() as session:
        session["_user_id"] = identity
    assert client.get("/").headers["Location"] == "/login"
