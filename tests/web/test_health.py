"""GET /healthz: 200 only when database, Redis, a worker heartbeat and the scheduler tick are fine."""

from __future__ import annotations

import time

import pytest
import redis

from portal.queueing import record_scheduler_tick, record_worker_heartbeat
from tests.jobs.conftest import redis_url_with_db

HEALTH_REDIS_DB = 15
MONITOR_TOKEN = "monitor-token-for-tests"
MONITOR = {"Authorization": f"Bearer {MONITOR_TOKEN}"}


@pytest.fixture
def app_config(app_config, redis_url):
    """The suite's settings with a Redis database of its own for the liveness keys."""
    return {
        **app_config,
        "REDIS_URL": redis_url_with_db(redis_url, HEALTH_REDIS_DB),
        "HEALTHZ_TOKEN": MONITOR_TOKEN,
    }


@pytest.fixture
def health_redis(app):
    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def test_healthy_when_worker_and_scheduler_are_alive_without_login(client, health_redis):
    record_worker_heartbeat(health_redis, "host-1")
    record_worker_heartbeat(health_redis, "host-2", at=time.time() - 500)
    record_scheduler_tick(health_redis)
    response = client.get("/healthz", headers=MONITOR)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True} and body["redis"] == {"ok": True}
    assert body["worker"]["ok"] and body["worker"]["name"] == "host-1"
    assert body["worker"]["age_seconds"] < 5
    assert body["scheduler"]["ok"] and body["scheduler"]["age_seconds"] < 5
    assert response.headers["Cache-Control"] == "no-store"


def test_unhealthy_without_any_worker_or_scheduler(client, health_redis):
    response = client.get("/healthz", headers=MONITOR)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unhealthy"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["worker"] == {
        "ok": False,
        "last_heartbeat": None,
        "age_seconds": None,
        "name": None,
    }
    assert body["scheduler"]["ok"] is False


def test_stale_heartbeat_or_tick_makes_it_unhealthy(client, health_redis):
    record_worker_heartbeat(health_redis, "old", at=time.time() - 300)
    record_scheduler_tick(health_redis)
    body = client.get("/healthz", headers=MONITOR).get_json()
    assert body["worker"]["ok"] is False and body["worker"]["age_seconds"] >= 299
    assert body["scheduler"]["ok"] is True

    record_worker_heartbeat(health_redis, "new")
    record_scheduler_tick(health_redis, at=time.time() - 300)
    response = client.get("/healthz", headers=MONITOR)
    assert response.status_code == 503
    assert response.get_json()["worker"]["ok"] is True
    assert response.get_json()["scheduler"]["ok"] is False


def test_unreachable_redis_is_reported(app_config, tmp_path):
    from portal import create_app

    app = create_app({**app_config, "REDIS_URL": f"unix://{tmp_path / 'nothing.sock'}"})
    try:
        response = app.test_client().get("/healthz", headers=MONITOR)
        assert response.status_code == 503
        body = response.get_json()
        assert body["redis"]["ok"] is False and "error" in body["redis"]
        assert body["database"]["ok"] is True
    finally:
        app.extensions["db_engine"].dispose()


def test_unreachable_database_is_reported(app_config, tmp_path, health_redis):
    from portal import create_app

    record_worker_heartbeat(health_redis, "host-1")
    record_scheduler_tick(health_redis)
    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{missing}"})
    try:
        response = app.test_client().get("/healthz", headers=MONITOR)
        assert response.status_code == 503
        assert response.get_json()["database"]["ok"] is False
        assert response.get_json()["worker"]["ok"] is True
    finally:
        app.extensions["db_engine"].dispose()


# --- what an anonymous caller sees ---------------------------------------------------------------


def test_anonymous_callers_see_only_ok_per_part(client, health_redis):
    record_worker_heartbeat(health_redis, "worker-host-4242")
    record_scheduler_tick(health_redis)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": {"ok": True},
        "redis": {"ok": True},
        "worker": {"ok": True},
        "scheduler": {"ok": True},
    }
    assert "worker-host-4242" not in response.get_data(as_text=True)


def test_a_failing_part_shows_no_error_class_without_the_token(app_config, tmp_path):
    from portal import create_app

    app = create_app({**app_config, "REDIS_URL": f"unix://{tmp_path / 'nothing.sock'}"})
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["redis"] == {"ok": False}
        assert "Error" not in response.get_data(as_text=True)
    finally:
        app.extensions["db_engine"].dispose()


@pytest.mark.parametrize(
    "header", ["Bearer wrong", f"Basic {MONITOR_TOKEN}", f"Bearer {MONITOR_TOKEN}x", "Bearer "]
)
def test_a_wrong_token_sees_no_details(client, health_redis, header):
    record_worker_heartbeat(health_redis, "worker-host-4242")
    body = client.get("/healthz", headers={"Authorization": header}).get_json()
    assert body["worker"] == {"ok": True}


def test_without_a_configured_token_nobody_sees_details(app_config, health_redis):
    from portal import create_app

    record_worker_heartbeat(health_redis, "worker-host-4242")
    app = create_app({**app_config, "HEALTHZ_TOKEN": None})
    try:
        body = app.test_client().get("/healthz", headers={"Authorization": "Bearer "}).get_json()
        assert body["worker"] == {"ok": True}
    finally:
        app.extensions["db_engine"].dispose()
