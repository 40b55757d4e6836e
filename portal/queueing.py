"""Redis connection, RQ queues, enqueue-by-dotted-path, and the liveness keys of the processes.

The Redis is REDIS_URL when configured, else the embedded redis-server of the instance folder.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import redis
from flask import Flask, current_app
from rq import Queue
from rq.job import Job

DEFAULT_QUEUE = "default"
# Default for jobs other than runs (a run gets its process's job timeout, ProcessSpec.job_timeout).
JOB_TIMEOUT = 6 * 3600
RESULT_TTL = 24 * 3600
SOCKET_TIMEOUT = 30
FAILURE_TTL = 7 * 24 * 3600

WORKER_HEARTBEATS_KEY = "portal:heartbeats:workers"  # sorted set: worker name → epoch seconds
SCHEDULER_TICK_KEY = "portal:scheduler:last_tick"
DISPATCH_KEY = "portal:dispatch:last_run"


def _app(app: Flask | None) -> Flask:
    return app if app is not None else current_app._get_current_object()


def redis_url(app: Flask | None = None) -> str:
    """The app's Redis URL: REDIS_URL, else the embedded Redis (started on first use)."""
    application = _app(app)
    url = application.extensions.get("redis_url")
    if url is None:
        url = application.config.get("REDIS_URL")
        if not url:
            from portal.embedded_redis import ensure_embedded_redis

            url = ensure_embedded_redis(application.instance_path)
        application.extensions["redis_url"] = url
    return url


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's shared Redis client (its pool re-creates connections after a fork)."""
    application = _app(app)
    conn = application.extensions.get("redis")
    if conn is None:
        # A frozen Redis (paused, half-open connection) answers nothing: give up a call after
        # 30 s so callers can treat it like a stopped one. The workers' blocking dequeue waits
        # 15 s, well inside that.
        conn = redis.Redis.from_url(
            redis_url(application),
            socket_connect_timeout=5,
            socket_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        application.extensions["redis"] = conn
    return conn


def close_redis(app: Flask | None = None) -> None:
    """Close the app's Redis client (tests and shutdown)."""
    conn = _app(app).extensions.pop("redis", None)
    if conn is not None:
        conn.close()


def queue_names(app: Flask | None = None) -> list[str]:
    """The queues workers listen on, highest priority first."""
    return list(_app(app).config.get("RQ_QUEUES") or [DEFAULT_QUEUE])


def get_queue(name: str = DEFAULT_QUEUE, app: Flask | None = None) -> Queue:
    """The RQ queue `name` on the app's Redis."""
    return Queue(name, connection=get_redis(app), default_timeout=JOB_TIMEOUT)


def enqueue(
    dotted_path: str,
    *ids: str | int,
    job_id: str | None = None,
    queue: str = DEFAULT_QUEUE,
    job_timeout: int = JOB_TIMEOUT,
) -> Job:
    """Enqueue the function at `dotted_path` with plain ids as arguments (never objects)."""
    return get_queue(queue).enqueue(
        dotted_path,
        *ids,
        job_id=job_id,
        job_timeout=job_timeout,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
    )


def job_setting(name: str, default: float) -> float:
    """A numeric jobs setting: app config `name`, else env PORTAL_<name>, else `default`."""
    value = current_app.config.get(name) if current_app else None
    if value is None:
        value = os.environ.get(f"PORTAL_{name}")
    return float(value) if value is not None else float(default)


# --- liveness keys read by /healthz -----------------------------------------------------------


def record_worker_heartbeat(conn: redis.Redis, worker_name: str, at: float | None = None) -> None:
    """Note that worker `worker_name` is alive now (entries older than a day are pruned)."""
    now = time.time() if at is None else at
    with conn.pipeline() as pipe:
        pipe.zadd(WORKER_HEARTBEATS_KEY, {worker_name: now})
        pipe.zremrangebyscore(WORKER_HEARTBEATS_KEY, "-inf", now - 86400)
        pipe.execute()


def newest_worker_heartbeat(conn: redis.Redis) -> tuple[str, dt.datetime] | None:
    """The most recent worker heartbeat as (worker name, aware UTC time), or None."""
    newest = conn.zrevrange(WORKER_HEARTBEATS_KEY, 0, 0, withscores=True)
    if not newest:
        return None
    name, score = newest[0]
    return name.decode(), dt.datetime.fromtimestamp(score, dt.UTC)


def record_scheduler_tick(conn: redis.Redis, at: float | None = None) -> None:
    """Note that the scheduler's clock loop ran now."""
    conn.set(SCHEDULER_TICK_KEY, repr(time.time() if at is None else at))


def last_scheduler_tick(conn: redis.Redis) -> dt.datetime | None:
    """When the scheduler's clock loop last ran (aware UTC), or None."""
    value = conn.get(SCHEDULER_TICK_KEY)
    return dt.datetime.fromtimestamp(float(value), dt.UTC) if value else None


def record_dispatch(moment: dt.datetime) -> None:
    """Note the time of the latest dispatch_due run (shown by /healthz)."""
    get_redis().set(DISPATCH_KEY, repr(moment.timestamp()))


def last_dispatch(conn: redis.Redis) -> dt.datetime | None:
    """When dispatch_due last ran (aware UTC), or None."""
    value = conn.get(DISPATCH_KEY)
    return dt.datetime.fromtimestamp(float(value), dt.UTC) if value else None
