"""gunicorn with the project's gunicorn.conf.py: polling requests leave no access line unless
at DEBUG, other requests do; LOG_FORMAT=json makes the access lines JSON objects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from portal.web.access_log import is_polling
from sandbox.serve import free_port
from tests.conftest import TEST_FERNET_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "01GPZ6JAJF3N45A29JD3WN3B4D"


def test_polling_paths_are_exactly_the_self_repeating_gets():
    assert is_polling("GET", "/healthz")
    assert is_polling("GET", "/runs/log")
    assert is_polling("GET", f"/runs/{RUN_ID}/row")
    assert not is_polling("POST", "/runs/log")
    assert not is_polling("GET", f"/runs/{RUN_ID}/error")
    assert not is_polling("GET", "/login")
    assert not is_polling("GET", "/runs/not-a-run-id/row")


def _serve_and_request(tmp_path, sqlite_template, redis_url, *extra: str, env=None) -> str:
    """Start gunicorn (project config), send one of each request, stop it; its output."""
    database = tmp_path / "portal.sqlite3"
    shutil.copyfile(sqlite_template, database)
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    port = free_port()
    output = tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key",
        "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--access-logfile", "-", *extra, "wsgi:app"]
    with open(output, "wb") as sink:
        server = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/login?probe=1", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(output.read_text())
                time.sleep(0.2)
        for path in ("/healthz", "/runs/log", f"/runs/{RUN_ID}/row", "/login?seen=1"):
            requests.get(base + path, timeout=10, allow_redirects=False)
        time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    return output.read_text()


def test_polling_requests_leave_no_access_line_other_requests_do(
    tmp_path, sqlite_template, redis_url
):
    text = _serve_and_request(tmp_path, sqlite_template, redis_url)
    assert '"GET /login?seen=1 HTTP/1.1" 200' in text, text
    for polled in ("/healthz", "/runs/log", f"/runs/{RUN_ID}/row"):
        assert f"GET {polled}" not in text, text


def test_debug_level_shows_the_polling_requests(tmp_path, sqlite_template, redis_url):
    text = _serve_and_request(tmp_path, sqlite_template, redis_url, "--log-level", "debug")
    assert "GET /healthz" in text and f"GET /runs/{RUN_ID}/row" in text, text


def test_json_format_gives_one_object_per_access_line(tmp_path, sqlite_template, redis_url):
    text = _serve_and_request(tmp_path, sqlite_template, redis_url, env={"LOG_FORMAT": "json"})
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests_logged = [r for r in records if r.get("event") == "http.request"]
    assert [r["path"] for r in requests_logged if r["query"] == "seen=1"] == ["/login"]
    login = next(r for r in requests_logged if r["query"] == "seen=1")
    assert (login["method"], login["status"], login["level"]) == ("GET", 200, "INFO")
    assert login["ms"] >= 0 and login["remote"] == "127.0.0.1" and login["bytes"] > 0
    assert not [r for r in requests_logged if r["path"] == "/healthz"]
    assert any(r["logger"] == "gunicorn.error" for r in records)  # gunicorn's own lines too
