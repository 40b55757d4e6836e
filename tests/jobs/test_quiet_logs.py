"""Worker and scheduler logs: one structured line per run start and end, nothing per clock
tick, and LOG_FORMAT=json for log collectors — checked on real worker processes."""

from __future__ import annotations

import json

from portal.db import session_scope
from portal.queueing import enqueue
from portal.runs.service import create_run
from tests.jobs import processes


def _create(app, connector_id: str, key: str, **params) -> str:
    with app.app_context(), session_scope() as session:
        return create_run(session, connector_id, key, params=params).id


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, or this fails
    return records


def test_json_lines_carry_one_start_and_one_end_per_run(jobs, connector_id):
    # One after the other: a connector's group admits one unfinished run at a time.
    succeeding = _create(jobs.app, connector_id, processes.SLEEP, seconds=0.2)
    process = jobs.worker("--burst", name="json-worker-1", env={"LOG_FORMAT": "json"})
    assert process.wait(timeout=60) == 0, jobs.log_text()
    failing = _create(jobs.app, connector_id, processes.FAIL)
    process = jobs.worker("--burst", name="json-worker-2", env={"LOG_FORMAT": "json"})
    assert process.wait(timeout=60) == 0, jobs.log_text()

    records = _json_lines(jobs.log_text())
    assert {r["level"] for r in records} <= {"INFO", "WARNING"}
    by_run: dict[str, list[dict]] = {}
    for record in records:
        if record.get("event", "").startswith("run."):
            by_run.setdefault(record["run_id"], []).append(record)
    assert set(by_run) == {succeeding, failing}, jobs.log_text()

    started, ended = by_run[succeeding]
    assert started["event"] == "run.started" and started["task_id"] == succeeding
    assert (started["connector_id"], started["process_key"]) == (connector_id, processes.SLEEP)
    assert started["trigger"] == "manual" and started["waited_seconds"] >= 0
    assert ended["event"] == "run.succeeded" and ended["level"] == "INFO"
    assert (ended["status"], ended["processed"], ended["total"]) == ("succeeded", 100, 100)
    assert 0.2 <= ended["seconds"] < 30

    started, ended = by_run[failing]
    assert ended["event"] == "run.failed" and ended["level"] == "WARNING"
    assert (ended["code"], ended["processed"], ended["total"]) == ("failed", 3, 7)
    assert "logger" in ended and "time" in ended and ended["message"].startswith("run.failed ")


def test_text_lines_are_key_value_and_a_clock_tick_logs_nothing(jobs, connector_id):
    run_id = _create(jobs.app, connector_id, processes.SLEEP, seconds=0.1)
    with jobs.app.app_context():
        for _ in range(3):  # three minutes of clock ticks with nothing due
            enqueue("jobs.schedule.dispatch_due")
    jobs.burst(name="text-worker")
    text = jobs.log_text()

    run_lines = [line for line in text.splitlines() if " run." in line]
    assert len(run_lines) == 2, text
    assert f"INFO portal.runs run.started run_id={run_id} task_id={run_id}" in run_lines[0]
    assert (
        f"connector_id={connector_id} process_key={processes.SLEEP} trigger=manual" in run_lines[0]
    )
    assert "run.succeeded" in run_lines[1] and "processed=100 total=100 seconds=" in run_lines[1]
    # RQ's per-job lines (taken, OK, result kept) are DEBUG now; the ticks leave no trace.
    for chatter in ("dispatch_due", "Job OK", "Successfully completed", "result is kept"):
        assert chatter not in text, text


def test_debug_level_shows_the_per_job_lines_again(jobs, connector_id):
    _create(jobs.app, connector_id, processes.SLEEP, seconds=0.1)
    process = jobs.worker("--burst", name="debug-worker", env={"PORTAL_LOG_LEVEL": "DEBUG"})
    assert process.wait(timeout=60) == 0, jobs.log_text()
    text = jobs.log_text()
    assert "DEBUG rq.worker" in text and "Job OK" in text
    assert "run.succeeded" in text
