"""Import runs on real workers: a run killed halfway and run again neither loses nor duplicates."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
import requests

from portal.db import session_scope
from portal.models.event_imports import EventImportSettings
from portal.models.runs import FAILED, RUNNING, SUCCEEDED
from portal.models.settings import ConnectorSettings
from portal.runs import messages
from tests.jobs.conftest import wait_for
from tests.jobs.test_worker_runs import _children, create, load
from tests.support.event_env import (
    TOKYO,
    create_event_app,
    event,
    haihai_config,
    kintone_config,
    kintone_records,
    post_events,
)

SUB = "jobs"
ACCOUNT = "m40001"
LOGIN, TOKEN = "owner", "haihai-jobs-token"
EVENTS = 9000


@pytest.fixture
def reaction_connector(jobs, connector_id, kintone_sandbox, haihai_sandbox):
    """A connector whose reaction import writes into a sandbox app; events of today."""
    import requests

    requests.post(
        f"{haihai_sandbox}/_sandbox/accounts",
        json={
            "account_key": ACCOUNT,
            "plan": "bridge",
            "users": [{"login_id": LOGIN, "api_token": TOKEN, "email": "owner@example.jp"}],
        },
        timeout=10,
    ).raise_for_status()
    app_id, token = create_event_app(kintone_sandbox, SUB, "reaction")
    with jobs.app.app_context(), session_scope() as session:
        session.add(
            ConnectorSettings(
                connector_id=connector_id,
                haihai_url=f"{haihai_sandbox}/{ACCOUNT}/",
                haihai_login_id=LOGIN,
                haihai_api_token=TOKEN,
                kintone_subdomain=SUB,
            )
        )
        session.add(
            EventImportSettings(
                connector_id=connector_id,
                role="reaction",
                timing="manual",
                app_id=app_id,
                api_token=token,
                event_types=["open"],
            )
        )
    # Events of today (the run's own day) that the sandbox already shows.
    haihai_config(haihai_sandbox, now=None, event_lag_seconds=0)
    start = dt.datetime.now(TOKYO).replace(hour=0, minute=0, second=0, microsecond=0)
    span = max(1, int((dt.datetime.now(TOKYO) - start).total_seconds()) - 5)
    post_events(
        haihai_sandbox,
        ACCOUNT,
        [
            event(
                "open", f"user{i:05d}@example.jp", start + dt.timedelta(seconds=i * span // EVENTS)
            )
            for i in range(EVENTS)
        ],
    )
    env = {
        "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}",
        "HAIHAI_ALLOW_LOCAL_URLS": "1",
    }
    return {"app_id": app_id, "env": env, "kintone": kintone_sandbox}


def _bulk_calls(kintone: str) -> int:
    stats = requests.get(f"{kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30)
    return stats.json()["calls"].get("POST /k/v1/bulkRequest.json", 0)


def _settled_count(kintone: str, app_id: str) -> int:
    """The app's record count once it has stayed the same for two seconds."""
    previous, since = -1, time.monotonic()
    while True:
        count = len(kintone_records(kintone, SUB, app_id))
        if count != previous:
            previous, since = count, time.monotonic()
        elif time.monotonic() - since >= 2:
            return count
        time.sleep(0.2)


def test_a_run_killed_halfway_and_run_again_writes_every_event_exactly_once(
    jobs, connector_id, reaction_connector
):
    kintone = reaction_connector["kintone"]
    app_id = reaction_connector["app_id"]
    kintone_config(kintone, latency_ms=400)  # slow writes: the kill lands between chunks
    try:
        first = create(jobs.app, connector_id, "reaction")
        worker = jobs.worker(name="doomed", env=reaction_connector["env"])
        wait_for(lambda: load(jobs.app, first).status == RUNNING, timeout=30)
        # Kill as soon as the first chunk reaches kintone: at most three are in flight then.
        wait_for(lambda: _bulk_calls(kintone) >= 1, timeout=60)
        horses = _children(worker.pid)
        assert len(horses) == 1
        os.kill(horses[0], signal.SIGKILL)
        run = wait_for(lambda: (r := load(jobs.app, first)).status == FAILED and r, timeout=20)
        assert run.error_detail == messages.WORKER_LOST_MESSAGE
        # Chunks already sent when the horse died still land (the sandbox finishes them).
        written_before = _settled_count(kintone, app_id)
        assert 2000 <= written_before < EVENTS
    finally:
        kintone_config(kintone, latency_ms=0)

    second = create(jobs.app, connector_id, "reaction")
    wait_for(lambda: load(jobs.app, second).status == SUCCEEDED, timeout=120)
    run = load(jobs.app, second)
    assert run.processed == run.total == EVENTS - written_before
    records = kintone_records(kintone, SUB, app_id)
    addresses = [r["RH01MailAddress"]["value"] for r in records]
    assert len(addresses) == EVENTS == len(set(addresses))
    assert "メール開封\n連携されたデータ: " in run.message_detail

    # A third run finds everything imported.
    third = create(jobs.app, connector_id, "reaction")
    wait_for(lambda: load(jobs.app, third).status == SUCCEEDED, timeout=60)
    assert (load(jobs.app, third).processed, load(jobs.app, third).total) == (0, 0)
    assert len(kintone_records(kintone, SUB, app_id)) == EVENTS
