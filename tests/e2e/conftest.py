"""Browser-test fixtures: the real portal in subprocesses and Chromium driven by Playwright.

Fixtures
- ``live_portal``: a running portal (gunicorn, 2 workers) on a fresh migrated SQLite file;
  yields a :class:`LivePortal` (``.url``, ``.cli(*args)``, ``.spawn(*args)``,
  ``.create_account(id)``, ``.configure_demo_connector(owner, haihai_url, kintone, haihai)``).
- ``live_portal_env``: extra environment for the portal processes; override it in a test module
  (e.g. to point KINTONE_BASE_URL_TEMPLATE at the kintone sandbox).
- ``portal_cli``: ``live_portal.cli`` — run ``flask --app wsgi …`` against the same database.
- ``browser_page``: a fresh Playwright page (ja-JP, Asia/Tokyo) in Debian's headless Chromium.
- ``portal_sign_in``: ``portal_sign_in(page, connector_id, password)`` fills and sends the
  login form of the live portal.
- ``signed_in_page``: a :class:`SignedIn` whose page shows the コネクター一覧 of a new account
  (HC0001) that has already changed its initial password (to ``E2E_PASSWORD``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from sandbox.serve import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E_PASSWORD = "Browser#Test2024"
STARTUP_TIMEOUT = 30.0


def pytest_collection_modifyitems(items):
    """Every test collected under tests/e2e is a browser test."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


class PortalCommandError(RuntimeError):
    """A `flask` command run against the live portal exited with a non-zero code."""

    def __init__(self, args: tuple[str, ...], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"flask {' '.join(args)} exited {returncode}: {stderr or stdout}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass
class LivePortal:
    """A portal served by real processes; `url` has no trailing slash."""

    url: str
    database_url: str
    instance_path: Path
    env: dict[str, str]
    log_path: Path
    _children: list[subprocess.Popen] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 60) -> str:
        """Run `flask --app wsgi *args` with the portal's settings; return its stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise PortalCommandError(args, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start `flask --app wsgi *args` in the background (e.g. "jobs", "worker"); stopped at teardown."""
        log = self.log_path.with_name(f"{'-'.join(args)}.log".replace("/", "_"))
        with open(log, "ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", *args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children.append(process)
        return process

    def create_account(self, connector_id: str, email: str | None = None) -> str:
        """Create an account through the operator CLI; return its initial password."""
        output = self.cli(
            "accounts", "create", connector_id, "--email", email or f"{connector_id}@example.com"
        )
        match = re.search(r"^initial password: (\S+)$", output, re.M)
        if match is None:
            raise AssertionError(f"no initial password in: {output!r}")
        return match.group(1)

    def configure_demo_connector(
        self, owner: str, haihai_url: str, kintone: dict[str, str], haihai: dict[str, str]
    ) -> str:
        """Steps 1–4 of account `owner`'s connector, written through the portal's own code into
        the live database (`kintone`/`haihai`: the demo seeds' access values) → connector id."""
        from sqlmodel import select

        from portal import create_app
        from portal.db import session_scope
        from portal.demo_fixtures import configure_demo_connector
        from portal.models import Account

        env = self.env
        app = create_app(
            {
                "DATABASE_URL": env["DATABASE_URL"],
                "REDIS_URL": env["REDIS_URL"],
                "INSTANCE_PATH": str(self.instance_path),
                "SECRET_KEY": env["SECRET_KEY"],
                "PORTAL_SECRET_KEY": env["PORTAL_SECRET_KEY"],
                "HAIHAI_ALLOW_LOCAL_URLS": True,
                "KINTONE_BASE_URL_TEMPLATE": env["KINTONE_BASE_URL_TEMPLATE"],
            }
        )
        try:
            with app.app_context(), session_scope() as session:
                account = session.exec(select(Account).where(Account.connector_id == owner)).one()
                connector = configure_demo_connector(
                    session,
                    account.id,
                    env["KINTONE_BASE_URL_TEMPLATE"],
                    haihai_url,
                    {"kintone": kintone, "haihai": haihai},
                )
                return connector.id
        finally:
            app.extensions["db_engine"].dispose()

    def log(self) -> str:
        """Everything the web processes wrote so far (for failure messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


def _wait_until_serving(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the portal exited with {process.returncode}:\n{log_path.read_text()}"
            )
        try:
            with requests.get(f"{url}/login", timeout=2) as response:
                if response.status_code == 200:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"the portal did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log_path.read_text()}"
    )


@pytest.fixture
def live_portal_env() -> dict[str, str]:
    """Extra environment variables for the portal's processes (override to add some)."""
    return {}


@pytest.fixture
def live_portal(tmp_path, sqlite_template, redis_url, live_portal_env) -> Iterator[LivePortal]:
    """The portal served by gunicorn (2 workers) on a free port with a fresh migrated database."""
    instance = tmp_path / "portal-instance"
    instance.mkdir()
    database = tmp_path / "portal.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "PORTAL_INSTANCE_PATH": str(instance),
        # Fixed for the portal's lifetime so every worker and CLI call agrees on them.
        "SECRET_KEY": secrets.token_hex(32),
        "PORTAL_SECRET_KEY": Fernet.generate_key().decode(),
        "SESSION_COOKIE_SECURE": "0",
        "HAIHAI_ALLOW_LOCAL_URLS": "1",
        "PYTHONUNBUFFERED": "1",
        **live_portal_env,
    }
    env.pop("FLASK_APP", None)
    log_path = tmp_path / "portal-web.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--threads", "4", "--graceful-timeout", "3", "wsgi:app"]
    with open(log_path, "wb") as output:
        web = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    portal = LivePortal(
        url=f"http://127.0.0.1:{port}",
        database_url=env["DATABASE_URL"],
        instance_path=instance,
        env=env,
        log_path=log_path,
    )
    try:
        _wait_until_serving(portal.url, web, log_path)
        yield portal
    finally:
        for child in reversed(portal._children):
            _stop(child)
        _stop(web)


@pytest.fixture
def portal_cli(live_portal):
    """`portal_cli(*args) -> stdout`: `flask --app wsgi *args` against the live portal."""
    return live_portal.cli


@pytest.fixture(scope="session")
def _chromium():
    """One headless Chromium for the session (Debian's binary; Playwright downloads nothing)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _is_policy_violation(message) -> bool:
    return message.type == "error" and "Content Security Policy" in message.text


@pytest.fixture
def browser_page(_chromium):
    """A page in a fresh browser context (no cookies), Japanese locale, Tokyo time.

    Anything the Content-Security-Policy blocked during the test fails it at teardown.
    """
    context = _chromium.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(f"{page.url}: {m.text} {m.location}")
            if _is_policy_violation(m)
            else None
        ),
    )
    yield page
    context.close()
    assert violations == [], "blocked by the Content-Security-Policy"


@dataclass
class SignedIn:
    """A browser page signed in to the live portal, showing the コネクター一覧."""

    page: object
    portal: LivePortal
    connector_id: str
    password: str


def sign_in(page, base_url: str, connector_id: str, password: str) -> None:
    """Fill and send the login form (the page ends wherever the portal sends it)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("配配メールコネクタ ID").fill(connector_id)
    page.get_by_label("パスワード", exact=True).fill(password)
    page.get_by_role("button", name="続ける").click()


@pytest.fixture
def portal_sign_in(live_portal):
    """`portal_sign_in(page, connector_id, password)`: send the live portal's login form."""

    def _sign_in(page, connector_id: str, password: str) -> None:
        sign_in(page, live_portal.url, connector_id, password)

    return _sign_in


@pytest.fixture
def signed_in_page(live_portal, browser_page) -> SignedIn:
    """A new account (HC0001) signed in with its changed password, on the コネクター一覧."""
    from playwright.sync_api import expect

    initial = live_portal.create_account("HC0001")
    sign_in(browser_page, live_portal.url, "HC0001", initial)
    browser_page.wait_for_url(f"{live_portal.url}/password")
    browser_page.get_by_label("新しいパスワード", exact=True).fill(E2E_PASSWORD)
    browser_page.get_by_label("再入力(確認)", exact=True).fill(E2E_PASSWORD)
    browser_page.get_by_role("button", name="設定", exact=True).click()
    browser_page.wait_for_url(f"{live_portal.url}/")
    expect(browser_page.get_by_role("heading", name="コネクター一覧")).to_be_visible()
    return SignedIn(browser_page, live_portal, "HC0001", E2E_PASSWORD)
