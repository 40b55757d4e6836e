"""Sign-in, forced password change and sign-out (F-AUTH-1…3), and the session rules (F-AUTH-6)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from portal.auth import service, sessions
from portal.auth.forms import LoginForm, PasswordChangeForm
from portal.auth.passwords import problem_messages
from portal.db import get_session
from portal.extensions import login_manager
from portal.inbound import is_inbound
from portal.models.accounts import Account
from portal.models.common import utcnow
from portal.web.htmx import full_page_redirect, hx_response, is_htmx
from portal.web.templating import format_jp_datetime

bp = Blueprint("auth", __name__)

# The cookie's key for the server-side session token (see portal.auth.sessions).
SESSION_TOKEN_KEY = "sid"

INVALID_CREDENTIALS_MESSAGE = "配配メールコネクタ ID またはパスワードが正しくありません。"
DISABLED_MESSAGE = (
    "この配配メールコネクタ ID は利用停止されています。ポータルの管理者にお問い合わせください。"
)
ID_LOCKED_MESSAGE = (
    "ログインに続けて失敗したため、この配配メールコネクタ ID は一時的にロックされています。"
    "{until} 以降に再度ログインしてください。"
)
ADDRESS_LOCKED_MESSAGE = (
    "このネットワークからのログインの失敗が続いたため、ログインを一時的に制限しています。"
    "{until} 以降に再度ログインしてください。"
)
IDLE_TIMEOUT_MESSAGE = "一定時間操作がなかったため、ログアウトしました。再度ログインしてください。"
CSRF_MESSAGE = "画面の有効期限が切れました。もう一度操作してください。"
REVIEW_PASSWORD_MESSAGE = "パスワードを見直してください。"

# Endpoints an account that must change its password may still reach.
_CHANGE_PENDING_ENDPOINTS = {"auth.change_password", "auth.logout", "auth.logged_out"}
# Endpoints that never touch the sign-in state (static files, health checks).
_SESSIONLESS_BLUEPRINTS = {"assets", "health"}


# --- the session ---------------------------------------------------------------------------


@login_manager.user_loader
def load_account(user_id: str) -> Account | None:
    """The account of a session identity "id:session_version" whose server-side session is live."""
    account_id, _, version = user_id.partition(":")
    if not (account_id.isdigit() and version.isdigit()):
        return None
    db = get_session()
    account = db.get(Account, int(account_id))
    if account is None or account.disabled or account.session_version != int(version):
        return None
    # The cookie is only a pointer: without its row (ended by logout …) it signs nobody in.
    row = sessions.find(db, session.get(SESSION_TOKEN_KEY))
    if row is None or row.account_id != account.id:
        return None
    g.login_session = row
    return account


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Anonymous or expired sessions go to the login page, as a whole page even from htmx."""
    if is_htmx():
        # The request URL is a fragment; come back to the page that asked for it instead.
        url = url_for("auth.login", next=_same_site_path(request.headers.get("HX-Current-URL")))
        return hx_response("", 401, redirect=url)
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=None if next_path == "/" else next_path))


@bp.before_app_request
def enforce_session_rules() -> Response | None:
    """End idle sessions and keep accounts with a pending password change on that page."""
    if (
        request.blueprint in _SESSIONLESS_BLUEPRINTS
        or is_inbound(request.blueprint)
        or request.endpoint is None
    ):
        return None
    if not current_user.is_authenticated:
        return None
    row = g.get("login_session")
    now = utcnow()
    if row is None or sessions.is_expired(
        row, sessions.SessionLimits.from_config(current_app.config), now
    ):
        _end_session()
        flash(IDLE_TIMEOUT_MESSAGE, "warning")
        return None  # the view now sees an anonymous user; login_required answers
    sessions.touch(get_session(), row, now)
    if current_user.must_change_password and request.endpoint not in _CHANGE_PENDING_ENDPOINTS:
        return full_page_redirect(url_for("auth.change_password"))
    return None


@bp.app_errorhandler(CSRFError)
def csrf_failed(_error: CSRFError) -> Response | tuple[str, int]:
    """A missing or stale CSRF token: never act; htmx reloads the page as a whole."""
    if is_htmx():
        flash(CSRF_MESSAGE, "warning")
        target = _same_site_path(request.headers.get("HX-Current-URL")) or url_for("auth.login")
        return hx_response("", 400, redirect=target)
    return render_template("auth/csrf_error.html", message=CSRF_MESSAGE), 400


def _end_session() -> None:
    """End the browser's session on the server (its cookie, wherever copied, stops working)."""
    sessions.end(get_session(), session.get(SESSION_TOKEN_KEY))
    g.pop("login_session", None)
    logout_user()
    session.clear()


def _start_session(account: Account) -> None:
    # A fresh session at every sign-in: nothing from before the login is carried over.
    _end_session()
    db = get_session()
    limits = sessions.SessionLimits.from_config(current_app.config)
    sessions.prune(db, limits)
    session[SESSION_TOKEN_KEY] = sessions.start(db, account.id)
    login_user(account)


def _same_site_path(target: str | None) -> str | None:
    """The path (and query) of `target` when it points into this site, else None."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme and parts.scheme not in {"http", "https"}:
        return None
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


# --- pages ---------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int, dict]:
    """The login form (F-AUTH-1); success leads to the password change or the connector list."""
    next_path = _same_site_path(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("connectors.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form, next_path=next_path), status

    policy = service.LoginPolicy.from_config(current_app.config)
    error: str
    headers: dict[str, str] = {}
    try:
        account = service.authenticate(
            get_session(), form.connector_id.data, form.password.data, request.remote_addr, policy
        )
    except service.LoginLockedError as locked:
        template = ID_LOCKED_MESSAGE if locked.scope == "id" else ADDRESS_LOCKED_MESSAGE
        error = template.format(until=format_jp_datetime(locked.until))
        status = 429
        seconds = max(1, int(locked.until.timestamp() - time.time()) + 1)
        headers["Retry-After"] = str(seconds)
    except service.AccountDisabledError:
        error, status = DISABLED_MESSAGE, 403
    except service.InvalidCredentialsError:
        error, status = INVALID_CREDENTIALS_MESSAGE, 401
    else:
        _start_session(account)
        if account.must_change_password:
            return redirect(url_for("auth.change_password"))
        return redirect(next_path or url_for("connectors.index"))
    form.password.data = ""
    page = render_template("auth/login.html", form=form, next_path=next_path, error=error)
    return page, status, headers


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str | tuple[str, int]:
    """パスワード変更 (F-AUTH-2): the policy dialog on failure, the connector list on success."""
    form = PasswordChangeForm()
    fragment = is_htmx()
    if request.method == "POST" and form.validate_on_submit():
        try:
            service.change_password(
                get_session(),
                current_user._get_current_object(),
                form.new_password.data or "",
                form.confirm_password.data or "",
            )
        except service.PasswordRejectedError as rejected:
            form.new_password.data = form.confirm_password.data = ""
            template = "auth/_password_form.html" if fragment else "auth/change_password.html"
            body = render_template(
                template,
                form=form,
                problems=problem_messages(rejected.problems),
                review_message=REVIEW_PASSWORD_MESSAGE,
            )
            return body, 422
        # This session carries on with the new session version; every other one has ended.
        account = current_user._get_current_object()
        sessions.end_all(get_session(), account.id)
        _start_session(account)
        return full_page_redirect(url_for("connectors.index"))
    return render_template("auth/change_password.html", form=form, problems=[])


@bp.post("/logout")
def logout() -> Response:
    """LOGOUT (F-AUTH-3): end the session, then show 「ログアウトしました」."""
    _end_session()
    return full_page_redirect(url_for("auth.logged_out"))


@bp.get("/logged-out")
def logged_out() -> str:
    """The page confirming the sign-out, with a way back to the login form."""
    return render_template("auth/logged_out.html")
