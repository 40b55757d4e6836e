"""配信停止/禁止顧客一覧連携 run by real `flask jobs worker` processes against both sandboxes:
the 10-runs-a-day rule, and a run killed half-way that the next run completes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_SEPARATE,
    STOP_BAN,
    FieldRule,
)
from portal.demo_fixtures import choice_field_options, create_haihai_account, create_kintone_app
from portal.models.runs import FAILED, RUNNING, SUCCEEDED
from portal.runs import messages
from tests.jobs.conftest import make_connector, wait_for

SUB = "jobs"
KINTONE_TOKEN = "JobsStopBanToken000000000000000000000001"
ACCOUNT = "m40601"
LOGIN = "jobs-admin"
HAIHAI_TOKEN = "jobs0haihai0token0000000000000001"
BULK = "POST /k/v1/bulkRequest.json"


def _fields() -> dict:
    return {
        "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
        "stop": {
            "type": "DROP_DOWN",
            "label": "配信停止",
            "options": choice_field_options(("配信停止", "配信停止ではない")),
        },
        "ban": {
            "type": "DROP_DOWN",
            "label": "配信禁止",
            "options": choice_field_options(("配信禁止", "配信禁止ではない")),
        },
    }


class Setup:
    """A connector of the jobs database configured for Step6 against the sandboxes."""

    def __init__(self, jobs, kintone: str, haihai: str, emails: list[str]):
        from portal.db import session_scope
        from portal.models.settings import ConnectorSettings, FieldMappingRow
        from portal.models.stop_ban import StopBanSettingsRow

        self.kintone = kintone
        self.jobs = jobs
        self.app_id, _ = create_kintone_app(
            kintone,
            subdomain=SUB,
            fields=_fields(),
            token=KINTONE_TOKEN,
            permissions=("view", "edit"),
            records=[{"mail": {"value": e}} for e in emails],
        )
        stopped = [
            {"email": e, "memberships": [{"gid": "1", "state": "stop"}]} for e in emails[::3]
        ]
        base = create_haihai_account(
            haihai,
            account_key=ACCOUNT,
            login_id=LOGIN,
            api_token=HAIHAI_TOKEN,
            groups=[{"gid": "1", "name": "メルマガ"}],
            customers=stopped,
        )
        self.connector_id = make_connector(jobs.app, "HC0601")
        with jobs.app.app_context(), session_scope() as session:
            session.add(
                ConnectorSettings(
                    connector_id=self.connector_id,
                    haihai_url=base,
                    haihai_login_id=LOGIN,
                    haihai_api_token=HAIHAI_TOKEN,
                    kintone_subdomain=SUB,
                    kintone_app_id=self.app_id,
                    kintone_api_token=KINTONE_TOKEN,
                )
            )
            session.add(
                FieldMappingRow(
                    connector_id=self.connector_id,
                    kintone_code="mail",
                    haihai_item="メールアドレス",
                    is_email=True,
                )
            )
            stop = FieldRule("stop", "DROP_DOWN", ("配信停止",), True, ("配信停止ではない",))
            ban = FieldRule("ban", "DROP_DOWN", ("配信禁止",), True, ("配信禁止ではない",))
            session.add(
                StopBanSettingsRow(
                    connector_id=self.connector_id,
                    timing="manual",
                    mode=MODE_SEPARATE,
                    stop_rule=stop.to_json(),
                    ban_rule=ban.to_json(),
                )
            )
        self.env = {
            "KINTONE_BASE_URL_TEMPLATE": kintone + "/{subdomain}",
            "HAIHAI_ALLOW_LOCAL_URLS": "1",
        }

    def create(self) -> str:
        from portal.db import session_scope
        from portal.runs.service import create_run

        with self.jobs.app.app_context(), session_scope() as session:
            return create_run(session, self.connector_id, STOP_BAN).id

    def load(self, run_id: str):
        from portal.db import session_scope
        from portal.models import Run

        with self.jobs.app.app_context(), session_scope() as session:
            return session.get(Run, run_id)

    def values(self) -> dict[str, tuple]:
        records = requests.get(
            f"{self.kintone}/_sandbox/records",
            params={"subdomain": SUB, "app": self.app_id},
            timeout=60,
        ).json()["records"]
        return {r["mail"]["value"]: (r["stop"]["value"], r["ban"]["value"]) for r in records}

    def kintone_calls(self) -> dict[str, int]:
        return requests.get(
            f"{self.kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30
        ).json()["calls"]


@pytest.fixture
def setup(jobs, kintone_sandbox, haihai_sandbox):
    return Setup(jobs, kintone_sandbox, haihai_sandbox, [f"c{n}@example.jp" for n in range(6)])


def test_ten_runs_a_day_and_the_eleventh_ends_in_error(jobs, setup):
    from portal.db import session_scope
    from portal.models import Run
    from portal.models.common import utcnow

    # Eight runs earlier today, one yesterday (Tokyo) and one refused as busy (not counted).
    now = utcnow()
    with jobs.app.app_context(), session_scope() as session:
        for n in range(8):
            session.add(
                Run(
                    connector_id=setup.connector_id,
                    process_key=STOP_BAN,
                    status=SUCCEEDED,
                    started_at=now - dt.timedelta(seconds=n + 1),
                    finished_at=now,
                )
            )
        tokyo_midnight = dt.datetime.now(ZoneInfo("Asia/Tokyo")).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        yesterday = tokyo_midnight.astimezone(dt.UTC) - dt.timedelta(minutes=1)
        session.add(
            Run(
                connector_id=setup.connector_id,
                process_key=STOP_BAN,
                status=SUCCEEDED,
                started_at=yesterday,
                finished_at=yesterday,
            )
        )
        session.add(
            Run(
                connector_id=setup.connector_id,
                process_key=STOP_BAN,
                status=FAILED,
                error_code="busy",
                started_at=now,
                finished_at=now,
            )
        )
    # The ninth and tenth one after the other (a group admits one unfinished run at a time).
    finished = []
    for name in ("limit-9", "limit-10"):
        finished.append(setup.create())
        worker = jobs.worker("--burst", name=name, env=setup.env)
        assert worker.wait(timeout=120) == 0, jobs.log_text()
    for run_id in finished:
        run = setup.load(run_id)
        assert (run.status, run.processed, run.total) == (SUCCEEDED, 6, 6), run.error_detail
    assert setup.values()["c0@example.jp"] == ("配信停止", "配信禁止ではない")

    before = setup.kintone_calls()
    eleventh = setup.create()
    worker = jobs.worker("--burst", name="limit-11", env=setup.env)
    assert worker.wait(timeout=120) == 0, jobs.log_text()
    run = setup.load(eleventh)
    assert run.status == FAILED
    assert run.error_code == "daily_limit"
    assert run.error_detail == messages.DAILY_LIMIT_MESSAGE
    assert run.error_detail.startswith(
        "1日に実行可能な連携回数は最大10回までとなります。"
        "本日の実行回数が上限に達したため、連携処理は実行されませんでした。"
    )
    assert setup.kintone_calls() == before  # refused before touching kintone


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_run_killed_half_way_is_completed_by_the_next_run(jobs, kintone_sandbox, haihai_sandbox):
    from jobs.schedule import dispatch_due

    emails = [f"user{n:05d}@example.jp" for n in range(8000)]
    setup = Setup(jobs, kintone_sandbox, haihai_sandbox, emails)
    # Slow kintone down so the run is still writing when its worker dies.
    requests.post(f"{kintone_sandbox}/_sandbox/config", json={"latency_ms": 150}, timeout=10)
    run_id = setup.create()
    worker = jobs.worker(name="doomed", env=setup.env)
    wait_for(lambda: setup.kintone_calls().get(BULK, 0) >= 1, timeout=60)
    assert setup.load(run_id).status == RUNNING
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)

    def settled_count() -> int | None:
        # A request already received still completes in kintone: wait until nothing changes.
        first = sum(1 for v in setup.values().values() if v[0] is not None)
        time.sleep(1)
        second = sum(1 for v in setup.values().values() if v[0] is not None)
        return second if first == second else None

    written = wait_for(settled_count, timeout=20)
    assert 0 < written < len(emails)

    # The reaper ends the dead run; the next run finishes the job without writing anything twice.
    wait_for(
        lambda: (dt.datetime.now(dt.UTC) - setup.load(run_id).heartbeat_at).total_seconds() > 3.2,
        timeout=15,
    )
    with jobs.app.app_context():
        dispatch_due()
    assert setup.load(run_id).status == FAILED
    requests.post(f"{kintone_sandbox}/_sandbox/config", json={"latency_ms": 0}, timeout=10)
    before = setup.kintone_calls().get(BULK, 0)
    again = setup.create()
    worker = jobs.worker("--burst", name="again", env=setup.env)
    assert worker.wait(timeout=180) == 0, jobs.log_text()
    run = setup.load(again)
    assert (run.status, run.processed, run.total) == (SUCCEEDED, 8000, 8000), run.error_detail
    remaining = len(emails) - written
    assert setup.kintone_calls()[BULK] - before == -(-remaining // 2000)
    values = setup.values()
    assert all(values[e] == ("配信停止", "配信禁止ではない") for e in emails[::3])
    assert values["user00001@example.jp"] == ("配信停止ではない", "配信禁止ではない")
    assert "更新: " in run.message_detail and f"変更なし: {written:,}件" in run.message_detail
