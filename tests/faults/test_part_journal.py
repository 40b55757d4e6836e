"""A run killed after its CSV reached 配配メール says so, and a re-run does not send it again
(issue #14, item 5)."""

from __future__ import annotations

import os
import signal

import pytest

from portal.models.runs import FAILED, PART_SENT, SUCCEEDED
from portal.runs import messages
from tests.faults.conftest import (
    CUSTOMER_1,
    DEMO_RECORDS,
    create,
    haihai_jobs,
    load,
    parts,
    set_sandbox,
    work_horse,
)
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.faults


def test_a_run_killed_after_sending_reports_the_job_and_the_rerun_reuses_it(faults, demo_connector):
    # 配配メール keeps the job queued for a while, so the run is waiting for its result.
    set_sandbox(faults.haihai_url, import_delay_seconds=3)
    first = create(faults.app, demo_connector, CUSTOMER_1)
    worker = faults.worker(name="survivor")

    def recorded_job() -> str | None:
        sent = [p for p in parts(faults.app, first) if p.state == PART_SENT]
        return sent[0].job_id if sent else None

    job_id = wait_for(recorded_job, timeout=60, interval=0.02)
    os.kill(work_horse(worker), signal.SIGKILL)  # e.g. the OOM killer

    dead = wait_for(lambda: (r := load(faults.app, first)).finished and r, timeout=30)
    assert dead.status == FAILED and dead.error_code == "worker_lost"
    assert dead.error_detail.startswith(messages.WORKER_LOST_MESSAGE)
    assert f"配配メールへの送信は完了しています（ジョブID {job_id}）。" in dead.error_detail
    # The job's state at 配配メール when the run died (queued here: it is still being imported).
    assert f"ジョブID {job_id}: 配配メールで取込処理中です" in dead.error_detail
    assert [job["job_id"] for job in haihai_jobs(faults.haihai_url)] == [job_id]

    # Run it again: the same rows with the same options are not uploaded a second time.
    second = create(faults.app, demo_connector, CUSTOMER_1)
    done = wait_for(lambda: (r := load(faults.app, second)).finished and r, timeout=90)
    assert done.status == SUCCEEDED, done.error_detail
    assert (done.processed, done.total) == (DEMO_RECORDS, DEMO_RECORDS)
    assert [job["job_id"] for job in haihai_jobs(faults.haihai_url)] == [job_id]
    assert f"再送信していません（ジョブID: {job_id}）" in done.message_detail
    assert f"配配メールのジョブID: {job_id}" in done.message_detail
    (reused,) = parts(faults.app, second)
    assert (reused.job_id, reused.reused, reused.rows) == (job_id, True, DEMO_RECORDS)

    # A third run after a success sends again: only an interrupted run's parts are reused.
    third = create(faults.app, demo_connector, CUSTOMER_1)
    done = wait_for(lambda: (r := load(faults.app, third)).finished and r, timeout=90)
    assert done.status == SUCCEEDED, done.error_detail
    assert len(haihai_jobs(faults.haihai_url)) == 2
