"""GET /healthz: database, Redis, worker heartbeat and scheduler tick as JSON (no login).

200 only when the database and Redis answer, some worker sent a heartbeat recently and the
scheduler's clock ticked recently; otherwise 503 with the failing part marked.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)

# Workers beat at least every 15 s and the clock every few seconds; allow for a slow moment.
WORKER_MAX_AGE = 90
SCHEDULER_MAX_AGE = 90


def _age(moment: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 1)


def _check_database() -> dict:
    from portal.db import engine

    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as error:  # noqa: BLE001 - the health answer names any failure
        return {"ok": False, "error": type(error).__name__}


def _check_redis_and_processes(now: dt.datetime) -> tuple[dict, dict, dict]:
    import redis

    from portal.queueing import (
        last_dispatch,
        last_scheduler_tick,
        newest_worker_heartbeat,
        redis_url,
    )

    worker: dict = {"ok": False, "last_heartbeat": None, "age_seconds": None, "name": None}
    scheduler: dict = {"ok": False, "last_tick": None, "age_seconds": None, "last_dispatch": None}
    try:
        conn = redis.Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": type(error).__name__}, worker, scheduler
    try:
        conn.ping()
        newest = newest_worker_heartbeat(conn)
        tick = last_scheduler_tick(conn)
        dispatched = last_dispatch(conn)
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": type(error).__name__}, worker, scheduler
    finally:
        conn.close()

    max_worker = current_app.config.get("HEALTH_WORKER_MAX_AGE", WORKER_MAX_AGE)
    max_tick = current_app.config.get("HEALTH_SCHEDULER_MAX_AGE", SCHEDULER_MAX_AGE)
    if newest is not None:
        name, moment = newest
        age = _age(moment, now)
        worker = {
            "ok": age <= max_worker,
            "last_heartbeat": moment.isoformat(),
            "age_seconds": age,
            "name": name,
        }
    if tick is not None:
        age = _age(tick, now)
        scheduler = {
            "ok": age <= max_tick,
            "last_tick": tick.isoformat(),
            "age_seconds": age,
            "last_dispatch": dispatched.isoformat() if dispatched else None,
        }
    return {"ok": True}, worker, scheduler


@bp.get("/healthz")
def healthz():
    """Health of every part the portal needs; 200 when all are healthy, else 503."""
    now = dt.datetime.now(dt.UTC)
    database = _check_database()
    redis_part, worker, scheduler = _check_redis_and_processes(now)
    parts = {"database": database, "redis": redis_part, "worker": worker, "scheduler": scheduler}
    healthy = all(part["ok"] for part in parts.values())
    body = {"status": "ok" if healthy else "unhealthy", "checked_at": now.isoformat(), **parts}
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
