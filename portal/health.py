"""GET /healthz: database, Redis, worker heartbeat and scheduler tick as JSON (no login).

200 only when the database and Redis answer, some worker sent a heartbeat recently and the
scheduler's clock ticked recently; otherwise 503 with the failing part marked. Anyone sees
ok/not-ok per part; the details (worker name, ages, tick times, error classes) only a caller
presenting `Authorization: Bearer <HEALTHZ_TOKEN>` (the setting is off by default).
"""

from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, current_app, jsonify, request
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


def _may_see_details() -> bool:
    """True when the request carries the configured HEALTHZ_TOKEN as a bearer token."""
    expected = current_app.config.get("HEALTHZ_TOKEN")
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), str(expected).encode())


@bp.get("/healthz")
def healthz():
    """Health of every part the portal needs; 200 when all are healthy, else 503."""
    now = dt.datetime.now(dt.UTC)
    database = _check_database()
    redis_part, worker, scheduler = _check_redis_and_processes(now)
    parts = {"database": database, "redis": redis_part, "worker": worker, "scheduler": scheduler}
    healthy = all(part["ok"] for part in parts.values())
    status = "ok" if healthy else "unhealthy"
    if _may_see_details():
        body = {"status": status, "checked_at": now.isoformat(), **parts}
    else:
        # Host names, process IDs, times and exception classes help an attacker, not a monitor.
        body = {"status": status, **{name: {"ok": part["ok"]} for name, part in parts.items()}}
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
