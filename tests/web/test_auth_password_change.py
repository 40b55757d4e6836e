"""F-AUTH-2: the forced パスワード変更 screen, its dialog and what a change does to sessions."""

from __future__ import annotations

import re

import pytest

from portal.auth import service
from portal.auth.passwords import verify_password
from portal.db import session_scope
from portal.models.accounts import Account
from tests.support.accounts import DEFAULT_PASSWORD, create_account, login

POLICY_SENTENCE = (
    "パスワードが要件を満たしていません。パスワードは8文字以上、かつ英小文字・英大文字・数字・"
    "記号(!@#$%^&amp;*)のいずれかの文字を使用してください。"
)
NEW_PASSWORD = "Fresh#Start2024"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _dialog(page: str) -> str:
    match = re.search(
        r'<div class="modal fade" id="password-error-dialog".*?</div>\s*</div>\s*</div>\s*</div>',
        page,
        re.S,
    )
    assert match, "the エラー詳細 dialog is missing"
    return match.group(0)


def _change(client, new: str, confirm: str | None = None, **kwargs):
    data = {"new_password": new, "confirm_password": new if confirm is None else confirm}
    return client.post("/password", data=data, **kwargs)


@pytest.fixture
def pending(app, client):
    """A client signed in with an account that must change its initial password."""
    account = create_account(app, "HC0001", must_change_password=True)
    assert login(client, "HC0001").headers["Location"] == "/password"
    return account


def test_first_login_leads_to_the_change_page_with_the_manuals_labels(pending, client):
    page = _text(client.get("/password"))
    assert "パスワード変更" in page
    assert "新しいパスワード" in page
    assert "再入力(確認)" in page
    assert ">設定</button>" in page
    assert "パスワードは以下要件を満たす必要があります。" in page
    assert "8文字以上であること" in page
    # The eye toggle and the live counter of each input.
    assert page.count("data-password-toggle=") == 2
    assert 'data-length-for="#new_password"' in page
    assert 'data-length-for="#confirm_password"' in page


@pytest.mark.parametrize("path", ["/", "/login", "/connectors"])
def test_a_pending_change_allows_only_the_change_page_and_logout(pending, client, path):
    response = client.get(path) if path != "/connectors" else client.post(path, data={"name": "x"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/password"


def test_htmx_requests_of_a_pending_change_are_redirected_as_a_whole_page(pending, client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/password"


def test_logout_still_works_with_a_pending_change(pending, client):
    response = client.post("/logout")
    assert response.headers["Location"] == "/logged-out"
    assert client.get("/password").status_code == 302


@pytest.mark.parametrize(
    ("new", "confirm", "expected"),
    [
        ("short1A", None, POLICY_SENTENCE),
        ("alllowercase", None, POLICY_SENTENCE),
        ("Has space 1!", None, POLICY_SENTENCE),
        ("hc0001", None, POLICY_SENTENCE),
        ("Hc0001Abc", None, None),
        (
            "Fresh#Start2024",
            "Fresh#Start2025",
            "「新しいパスワード」と「再入力(確認)」が一致しません。",
        ),
    ],
)
def test_refused_passwords_show_the_error_dialog(app, pending, client, new, confirm, expected):
    response = _change(client, new, confirm)
    if expected is None:  # control case: this one is fine
        assert response.status_code == 302
        return
    assert response.status_code == 422
    page = _text(response)
    dialog = _dialog(page)
    assert "エラー詳細" in dialog
    assert expected in dialog
    assert ">閉じる</button>" in dialog
    assert "data-autoshow" in dialog
    assert "パスワードを見直してください。" in page
    with app.app_context(), session_scope() as session:
        assert service.find_account(session, "HC0001").must_change_password


def test_the_connector_id_itself_is_refused(app, client):
    create_account(app, "Haihai2024x", must_change_password=True)
    login(client, "Haihai2024x")
    dialog = _dialog(_text(_change(client, "Haihai2024X")))
    assert "配配メールコネクタ ID と同じ文字列はパスワードに使用できません。" in dialog


def test_the_initial_password_cannot_be_kept(pending, client):
    dialog = _dialog(_text(_change(client, DEFAULT_PASSWORD)))
    assert "以前と同じパスワードは使用できません。" in dialog


def test_a_good_password_is_saved_and_leads_to_the_connector_list(app, pending, client):
    response = _change(client, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "コネクター一覧" in _text(client.get("/"))
    with app.app_context(), session_scope() as session:
        account = session.get(Account, pending.id)
        assert not account.must_change_password
        assert verify_password(account.password_hash, NEW_PASSWORD)
        assert account.session_version == pending.session_version + 1
    client.post("/logout")
    assert login(client, "HC0001", NEW_PASSWORD).headers["Location"] == "/"


def test_htmx_submission_swaps_the_form_with_the_dialog_or_redirects(pending, client):
    hx = {"HX-Request": "true", "HX-Current-URL": "http://localhost/password"}
    refused = _change(client, "weak", headers=hx)
    assert refused.status_code == 422
    body = _text(refused)
    assert body.lstrip().startswith('<div id="password-change">')
    assert "<html" not in body
    assert POLICY_SENTENCE in _dialog(body)
    accepted = _change(client, NEW_PASSWORD, headers=hx)
    assert accepted.headers["HX-Redirect"] == "/"


def test_a_change_ends_the_other_sessions_of_the_account(app, pending, client):
    other = app.test_client()
    login(other, "HC0001")
    assert other.get("/password").status_code == 200
    _change(client, NEW_PASSWORD)
    assert client.get("/").status_code == 200
    # The other browser's session named the old session version: it is signed out.
    response = other.get("/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_after_an_operator_reset_the_customers_last_password_is_refused(app, pending, client):
    _change(client, NEW_PASSWORD)
    with app.app_context(), session_scope() as session:
        _, initial = service.reset_password(session, "HC0001")
    # The reset ended the session.
    assert client.get("/").headers["Location"].startswith("/login")
    assert login(client, "HC0001", initial).headers["Location"] == "/password"
    dialog = _dialog(_text(_change(client, NEW_PASSWORD)))
    assert "以前と同じパスワードは使用できません。" in dialog
    assert _change(client, "Another#Pass2025").headers["Location"] == "/"
