"""`flask runs start CONNECTOR PROCESS [--wait]` with a real worker against the sandboxes."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
from sqlalchemy import func
from sqlmodel import select

from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.demo_fixtures import DEMO_RECORD_COUNT, configure_demo_connector, seed_sandboxes
from portal.models import Account, Connector, Run
from portal.models.settings import ConnectorSettings, ViewUrlSettingsRow
from portal.runs.messages import BUSY_MESSAGE
from portal.runs.targets import MSG_NOT_OFFERED, TIMING_OFF_HINT, run_targets
from tests.jobs.conftest import FLASK, PROJECT_ROOT


@pytest.fixture
def sandboxes(kintone_sandbox, haihai_sandbox):
    """Both sandboxes holding the demo app and account."""
    return kintone_sandbox, haihai_sandbox, seed_sandboxes(kintone_sandbox, haihai_sandbox)


@pytest.fixture
def sandbox_env(sandboxes) -> dict:
    """What worker and command need to reach the sandboxes."""
    return {
        "KINTONE_BASE_URL_TEMPLATE": sandboxes[0] + "/{subdomain}",
        "HAIHAI_ALLOW_LOCAL_URLS": "1",
    }


@pytest.fixture
def demo_id(jobs, sandboxes) -> str:
    """The demo connector, synced and mapped, in the job tests' database."""
    kintone_url, haihai_url, seeds = sandboxes
    with jobs.app.app_context(), session_scope() as session:
        account = Account(connector_id="DEMO01", email="demo@example.com", password_hash="x")
        session.add(account)
        session.flush()
        return configure_demo_connector(
            session, account.id, kintone_url + "/{subdomain}", haihai_url, seeds
        ).id


def flask_cli(jobs, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi <args>` as an operator would, in the job tests' environment."""
    return subprocess.run(
        [FLASK, "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env={**jobs.env, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def printed_run(completed: subprocess.CompletedProcess) -> dict:
    """The one JSON line the command printed."""
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout + completed.stderr
    return json.loads(lines[0])


def stored_run(jobs, run_id: str) -> Run:
    with jobs.app.app_context(), session_scope() as session:
        return session.get(Run, run_id)


def run_count(jobs) -> int:
    with jobs.app.app_context(), session_scope() as session:
        return session.exec(select(func.count()).select_from(Run)).one()


def kintone_view_urls(sandboxes) -> list[str]:
    kintone_url, _haihai_url, seeds = sandboxes
    dump = requests.get(
        f"{kintone_url}/_sandbox/records",
        params={"subdomain": seeds["kintone"]["subdomain"], "app": seeds["kintone"]["app_id"]},
        timeout=10,
    ).json()
    return [r["view_url"]["value"] for r in dump["records"] if r["view_url"]["value"]]


def test_wait_prints_the_finished_run_as_one_json_line(jobs, demo_id, sandboxes, sandbox_env):
    jobs.worker(name="cli-worker", env=sandbox_env)
    assert kintone_view_urls(sandboxes) == []

    completed = flask_cli(jobs, sandbox_env, "runs", "start", demo_id, "view_url", "--wait")

    assert completed.returncode == 0, completed.stderr + jobs.log_text()
    printed = printed_run(completed)
    run = stored_run(jobs, printed["task_id"])
    assert (run.status, run.trigger, run.process_key) == ("succeeded", "manual", "view_url")
    assert printed == {
        "task_id": run.id,
        "connector_id": demo_id,
        "process": "view_url",
        "process_name": "顧客閲覧URL連携",
        "trigger": "manual",
        "status": "succeeded",
        "status_label": "成功",
        "processed": DEMO_RECORD_COUNT,
        "total": DEMO_RECORD_COUNT,
        "error_code": None,
        "error_detail": None,
        "message_detail": run.message_detail,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
    }
    assert run.worker_name == "cli-worker"
    # The worker really wrote the customers' URLs into kintone.
    urls = kintone_view_urls(sandboxes)
    assert urls and all(url.startswith("http") for url in urls)

    # A 顧客情報連携 setting runs the same way (with the 配配メール sandbox).
    completed = flask_cli(jobs, sandbox_env, "runs", "start", demo_id, "customer:1", "--wait")
    assert completed.returncode == 0, completed.stderr + jobs.log_text()
    printed = printed_run(completed)
    assert (printed["status"], printed["process_name"]) == ("succeeded", "顧客情報連携 1")
    assert printed["processed"] == printed["total"] == DEMO_RECORD_COUNT


def test_a_run_ending_in_error_exits_one_with_its_detail(jobs, demo_id, sandbox_env):
    with jobs.app.app_context(), session_scope() as session:
        settings = session.get(ConnectorSettings, demo_id)
        settings.kintone_api_token = "WrongToken000000000000000000000000000001"
        session.add(settings)
    jobs.worker(name="cli-worker", env=sandbox_env)

    completed = flask_cli(jobs, sandbox_env, "runs", "start", demo_id, "view_url", "--wait")

    assert completed.returncode == 1, completed.stdout + completed.stderr
    printed = printed_run(completed)
    run = stored_run(jobs, printed["task_id"])
    assert (printed["status"], printed["status_label"]) == ("failed", "エラー")
    assert printed["error_detail"] == run.error_detail and "kintone" in run.error_detail
    assert printed["error_code"] == run.error_code is not None


def test_refused_like_the_run_page_and_no_run_is_created(jobs, demo_id, sandbox_env):
    with jobs.app.app_context(), session_scope() as session:
        row = session.get(ViewUrlSettingsRow, demo_id)
        row.timing = "off"
        session.add(row)
    runner = jobs.app.test_cli_runner()

    result = runner.invoke(args=["runs", "start", demo_id, "view_url", "--wait"])
    assert result.exit_code == 1 and result.stderr.strip() == TIMING_OFF_HINT

    # The keys the 実行 page offers this connector: its six settings and the demo's other
    # processes, not 顧客閲覧URL連携 (連携しない now).
    with jobs.app.app_context(), session_scope() as session:
        connector = session.get(Connector, demo_id)
        targets = run_targets(connector, load_connector_config(session, demo_id))
    offered = ", ".join(t.key for t in targets if t.enabled)
    assert offered.startswith("customer:1, customer:2, customer:3, customer:4, customer:5")
    assert "view_url" not in offered
    for key in ("customer:9", "test:sleep", "nonsense"):
        result = runner.invoke(args=["runs", "start", demo_id, key])
        assert result.exit_code == 1
        assert result.stderr.strip() == MSG_NOT_OFFERED.format(key=key, keys=offered)

    result = runner.invoke(args=["runs", "start", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "view_url"])
    assert result.exit_code == 1 and "no connector with ID" in result.output
    result = runner.invoke(args=["runs", "start", demo_id, "customer:1", "--param", "x=1"])
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.output
    assert run_count(jobs) == 0


def test_without_wait_the_queued_run_is_printed_and_a_worker_runs_it_later(
    jobs, demo_id, sandbox_env
):
    completed = flask_cli(jobs, sandbox_env, "runs", "start", demo_id, "view_url")
    assert completed.returncode == 0, completed.stderr
    printed = printed_run(completed)
    assert (printed["status"], printed["status_label"], printed["processed"]) == (
        "queued",
        "待機中",
        0,
    )

    # A second start in the same exclusion group is refused busy at once, as on the 実行 page.
    completed = flask_cli(jobs, sandbox_env, "runs", "start", demo_id, "customer:2", "--wait")
    assert completed.returncode == 1
    busy = printed_run(completed)
    assert (busy["status"], busy["error_code"], busy["error_detail"]) == (
        "failed",
        "busy",
        BUSY_MESSAGE,
    )

    later = jobs.worker("--burst", name="later", env=sandbox_env)
    assert later.wait(timeout=120) == 0, jobs.log_text()
    assert stored_run(jobs, printed["task_id"]).status == "succeeded"

    # Waiting with nobody to run it gives up after the timeout, leaving the run queued.
    completed = flask_cli(
        jobs, sandbox_env, "runs", "start", demo_id, "customer:2", "--wait", "--timeout", "1"
    )
    assert completed.returncode == 2
    waiting = printed_run(completed)
    assert waiting["status"] == "queued"
    later = jobs.worker("--burst", name="later-2", env=sandbox_env)
    assert later.wait(timeout=120) == 0, jobs.log_text()
    assert stored_run(jobs, waiting["task_id"]).status == "succeeded"


def test_a_run_redis_cannot_take_is_recorded_in_error_and_exits_one(jobs, demo_id, sandbox_env):
    from portal.runs.messages import ENQUEUE_FAILED_MESSAGE
    from sandbox.serve import free_port

    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    completed = flask_cli(
        jobs, {**sandbox_env, "REDIS_URL": nothing_listens}, "runs", "start", demo_id, "view_url"
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    printed = printed_run(completed)
    assert (printed["status"], printed["error_code"]) == ("failed", "enqueue_failed")
    assert printed["error_detail"] == ENQUEUE_FAILED_MESSAGE
    assert stored_run(jobs, printed["task_id"]).status == "failed"
