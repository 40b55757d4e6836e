"""Exclusion locks on real Redis, and the run services (daily limit, enqueue failure, estimates)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from jobs.locks import GroupLock, LockBusy, lock_holder, lock_key, release_if_held
from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.haihai_kintone.view_url.config import VIEW_URL
from portal.connector_types.registry import UnknownProcess, get_process, process_name
from portal.models.runs import FAILED, QUEUED, RUNNING, SUCCEEDED
from portal.runs import messages
from portal.syncs.context import RunFailed
from tests.jobs import processes
from tests.jobs.conftest import wait_for

# --- locks ---------------------------------------------------------------------------------


def test_second_holder_of_a_group_lock_is_refused_until_release(jobs_redis):
    first = GroupLock(jobs_redis, "c1", SYNC_GROUP, token="run-a", ttl=10)
    second = GroupLock(jobs_redis, "c1", SYNC_GROUP, token="run-b", ttl=10)
    first.acquire()
    with pytest.raises(LockBusy) as busy:
        second.acquire()
    assert busy.value.holder == "run-a"
    # Other groups and other connectors are independent.
    GroupLock(jobs_redis, "c1", "reaction", token="run-c").acquire()
    GroupLock(jobs_redis, "c2", SYNC_GROUP, token="run-d").acquire()
    assert second.release() is False  # not ours: nothing happens
    assert lock_holder(jobs_redis, "c1", SYNC_GROUP) == "run-a"
    assert first.release() is True
    second.acquire()
    assert lock_holder(jobs_redis, "c1", SYNC_GROUP) == "run-b"


def test_lock_expires_without_heartbeat_and_stays_with_one(jobs_redis):
    silent = GroupLock(jobs_redis, "c1", SYNC_GROUP, token="dead", ttl=0.3)
    silent.acquire()
    wait_for(lambda: jobs_redis.get(lock_key("c1", SYNC_GROUP)) is None, timeout=3)

    alive = GroupLock(jobs_redis, "c1", SYNC_GROUP, token="alive", ttl=0.3)
    alive.acquire()
    beats = []
    alive.start_heartbeat(0.05, on_beat=lambda: beats.append(1))
    try:
        time.sleep(0.8)
        assert lock_holder(jobs_redis, "c1", SYNC_GROUP) == "alive"
        assert len(beats) >= 5
    finally:
        alive.release()
    assert lock_holder(jobs_redis, "c1", SYNC_GROUP) is None


def test_release_if_held_frees_only_the_named_runs_lock(jobs_redis):
    GroupLock(jobs_redis, "c1", SYNC_GROUP, token="run-a").acquire()
    assert release_if_held(jobs_redis, "c1", SYNC_GROUP, "run-b") is False
    assert release_if_held(jobs_redis, "c1", SYNC_GROUP, "run-a") is True
    assert lock_holder(jobs_redis, "c1", SYNC_GROUP) is None


# --- registry ------------------------------------------------------------------------------


def test_process_names_groups_and_limits_follow_the_manual():
    assert [process_name(f"customer:{n}") for n in (1, 10)] == ["顧客情報連携 1", "顧客情報連携 10"]
    assert process_name("customer_plugin") == "顧客情報連携 (kintoneからの実行)"
    assert process_name(VIEW_URL) == "顧客閲覧URL連携"
    groups = {key: get_process(key).group for key in ("customer:3", "customer_plugin", VIEW_URL)}
    assert set(groups.values()) == {SYNC_GROUP}
    assert get_process("customer:1").daily_limit is None
    assert get_process("customer:7").number == 7
    with pytest.raises(UnknownProcess):
        get_process("nothing")


# --- services ------------------------------------------------------------------------------


def _add(app, connector_id, **values) -> str:
    from portal.db import session_scope
    from portal.models import Run

    with app.app_context(), session_scope() as session:
        run = Run(connector_id=connector_id, **{"process_key": processes.LIMITED, **values})
        session.add(run)
        session.flush()
        return run.id


def test_daily_limit_counts_the_accounts_calendar_day(jobs, connector_id):
    from portal.db import session_scope
    from portal.models import Run
    from portal.runs.service import check_daily_limit, local_day_bounds, runs_counted_today

    now = dt.datetime(2024, 3, 1, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo
    start, end = local_day_bounds(now, "Asia/Tokyo")
    assert (start, end) == (
        dt.datetime(2024, 2, 29, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 1, 15, 0, tzinfo=dt.UTC),
    )
    # Yesterday 23:59 in Tokyo, plus runs refused before reaching the sync: not counted.
    _add(jobs.app, connector_id, status=SUCCEEDED, started_at=start - dt.timedelta(minutes=1))
    _add(jobs.app, connector_id, status=FAILED, error_code="busy", started_at=start)
    _add(jobs.app, connector_id, status=FAILED, error_code="daily_limit", started_at=start)
    for n in range(9):
        code = "failed" if n == 0 else None  # a run that failed in the sync still counts
        _add(
            jobs.app,
            connector_id,
            status=SUCCEEDED,
            error_code=code,
            started_at=start + dt.timedelta(hours=n),
        )
    candidate = _add(jobs.app, connector_id, status=RUNNING, started_at=now)
    with jobs.app.app_context(), session_scope() as session:
        assert runs_counted_today(session, connector_id, processes.LIMITED, "Asia/Tokyo", now) == 10
        run = session.get(Run, candidate)
        check_daily_limit(session, run, now)  # 9 others today: this is the 10th
        _add(jobs.app, connector_id, status=SUCCEEDED, started_at=now - dt.timedelta(minutes=5))
        with pytest.raises(RunFailed) as refused:
            check_daily_limit(session, run, now)
        assert refused.value.code == "daily_limit"
        assert refused.value.message == messages.DAILY_LIMIT_MESSAGE
        # The next day in Tokyo starts afresh.
        check_daily_limit(session, run, end + dt.timedelta(minutes=1))


def test_run_whose_enqueue_fails_is_recorded_as_an_error(jobs, connector_id, tmp_path):
    from portal.db import session_scope
    from portal.queueing import close_redis
    from portal.runs.service import create_run

    close_redis(jobs.app)
    jobs.app.config["REDIS_URL"] = f"unix://{tmp_path / 'no-redis.sock'}"
    jobs.app.extensions.pop("redis_url", None)
    with jobs.app.app_context(), session_scope() as session:
        run = create_run(session, connector_id, processes.SLEEP)
        assert run.status == FAILED
        assert run.error_detail == messages.ENQUEUE_FAILED_MESSAGE
        assert run.started_at is not None and run.finished_at is not None
        with pytest.raises(UnknownProcess):
            create_run(session, connector_id, "nothing")


def test_estimate_of_the_remaining_time():
    from portal.models import Run
    from portal.runs.service import estimate_remaining

    now = dt.datetime(2024, 1, 1, 0, 1, tzinfo=dt.UTC)
    started = now - dt.timedelta(seconds=60)
    run = Run(
        connector_id="c",
        process_key="view_url",
        status=RUNNING,
        started_at=started,
        processed=25,
        total=100,
    )
    assert estimate_remaining(run, now) == dt.timedelta(seconds=180)
    run.processed = 0
    assert estimate_remaining(run, now) is None
    queued = Run(connector_id="c", process_key="view_url", status=QUEUED)
    assert estimate_remaining(queued, now) is None
