"""A double click on 「実行する」 runs the process once, with one worker (issue #14, item 4)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from portal.models.runs import FAILED, SUCCEEDED
from portal.runs import messages
from tests.faults.conftest import CUSTOMER_1, gunicorn, haihai_jobs, sign_in
from tests.jobs.conftest import wait_for
from tests.support.accounts import DEFAULT_PASSWORD

pytestmark = pytest.mark.faults


def _runs(app, connector_id: str):
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Run).where(Run.connector_id == connector_id)).all())


def test_two_start_requests_at_once_execute_one_run_and_answer_busy_at_once(faults, demo_connector):
    faults.worker(name="only")
    with gunicorn(faults) as portal:
        sign_in(portal, "HC0001", DEFAULT_PASSWORD)
        token = portal.csrf(f"/connectors/{demo_connector}/run")
        url = f"{portal.url}/connectors/{demo_connector}/run/{CUSTOMER_1}"
        headers = {"HX-Request": "true", "X-CSRFToken": token}
        barrier = threading.Barrier(2)
        answers: list[str] = []

        def click() -> None:
            barrier.wait()
            response = portal.http.post(url, data={"csrf_token": token}, headers=headers)
            assert response.status_code == 200, response.text
            answers.append(response.text)

        clicks = [threading.Thread(target=click) for _ in range(2)]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join(timeout=60)

    assert len(answers) == 2
    started = [a for a in answers if "を実行しました" in a]
    refused = [a for a in answers if messages.BUSY_MESSAGE in a]
    assert (len(started), len(refused)) == (1, 1), answers

    runs = wait_for(
        lambda: (rs := _runs(faults.app, demo_connector)) and all(r.finished for r in rs) and rs,
        timeout=90,
    )
    by_status = {r.status: r for r in runs}
    assert len(runs) == 2 and set(by_status) == {SUCCEEDED, FAILED}
    busy = by_status[FAILED]
    assert (busy.error_code, busy.error_detail) == ("busy", messages.BUSY_MESSAGE)
    assert f"タスクID:{busy.id}" in refused[0]
    assert busy.worker_name is None  # answered by the web request; no worker ever saw it
    log = faults.log_text()
    assert f"run.started run_id={by_status[SUCCEEDED].id}" in log
    assert f"run.started run_id={busy.id}" not in log
    assert len(haihai_jobs(faults.haihai_url)) == 1
