"""Settings from the environment, read inside create_app (never at import time)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _positive_int(name: str, default: int) -> int:
    """A whole number >= 1 from the environment; a clear start-up error otherwise."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _instance_secret(instance_path: Path, filename: str, factory) -> str:
    """Read a secret kept in the instance folder, creating it on first use."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = factory()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


# Longer than 80 lines on purpose: one flat table, one entry per setting, so every default and
# its environment variable are read in one place.
def load_config(instance_path: str) -> dict:
    """The portal's configuration from environment variables with embedded defaults."""
    folder = Path(instance_path)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'portal.sqlite3'}"
    # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants psycopg 3 explicitly.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY")
        or _instance_secret(folder, "flask_secret_key", lambda: secrets.token_hex(32)),
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "PORTAL_SECRET_KEY": os.environ.get("PORTAL_SECRET_KEY") or None,
        "PORTAL_SECRET_KEY_FILE": os.environ.get("PORTAL_SECRET_KEY_FILE")
        or str(folder / "portal_secret.key"),
        "KINTONE_BASE_URL_TEMPLATE": os.environ.get(
            "KINTONE_BASE_URL_TEMPLATE", "https://{subdomain}.cybozu.com"
        ),
        # Requests one kintone domain may have in flight across every worker (kintone refuses
        # the 101st), and the `$id` partitions one full read uses (never above that cap).
        "KINTONE_DOMAIN_CONCURRENCY": _positive_int("KINTONE_DOMAIN_CONCURRENCY", 20),
        "KINTONE_READ_PARTITIONS": _positive_int("KINTONE_READ_PARTITIONS", 4),
        # Demo and tests point the connector at the local sandboxes over http.
        "HAIHAI_ALLOW_LOCAL_URLS": _flag("HAIHAI_ALLOW_LOCAL_URLS", False),
        "PORTAL_TIMEZONE": os.environ.get("PORTAL_TIMEZONE", "Asia/Tokyo"),
        # How far behind its watermark a 差分 import re-reads events 配配メール showed late.
        "EVENT_IMPORT_OVERLAP_MINUTES": int(os.environ.get("EVENT_IMPORT_OVERLAP_MINUTES", "60")),
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", True),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "IDLE_TIMEOUT_MINUTES": int(os.environ.get("IDLE_TIMEOUT_MINUTES", "30")),
        "SESSION_MAX_HOURS": float(os.environ.get("SESSION_MAX_HOURS", "12")),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(
            os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", "20")
        ),
        "LOGIN_LOCK_MINUTES": int(os.environ.get("LOGIN_LOCK_MINUTES", "15")),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15")),
        # Number of reverse proxies in front of the web process whose X-Forwarded-* to trust.
        "PROXY_FIX_HOPS": int(os.environ.get("PROXY_FIX_HOPS", "0")),
        "WTF_CSRF_TIME_LIMIT": None,
        # Rate limits of inbound endpoints (the kintone plugin), in Flask-Limiter's notation.
        "INBOUND_RATE_LIMIT_PER_ADDRESS": os.environ.get(
            "INBOUND_RATE_LIMIT_PER_ADDRESS", "600 per minute"
        ),
        "INBOUND_AUTH_FAILURES_PER_ADDRESS": os.environ.get(
            "INBOUND_AUTH_FAILURES_PER_ADDRESS", "30 per 10 minutes"
        ),
        "PLUGIN_RATE_LIMIT_PER_TOKEN": os.environ.get(
            "PLUGIN_RATE_LIMIT_PER_TOKEN", "240 per minute"
        ),
        "PLUGIN_RUN_STARTS_PER_TOKEN": os.environ.get(
            "PLUGIN_RUN_STARTS_PER_TOKEN", "10 per minute"
        ),
        # Node.js runs @kintone/plugin-packer when Setup.zip is first downloaded.
        "NODE_BINARY": os.environ.get("NODE_BINARY", "node"),
        # The largest request body (the settings page with ten 顧客情報連携設定 and their
        # conditions stays far below it); larger ones are refused with 413 before parsing.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "MAX_FORM_MEMORY_SIZE": 256 * 1024,
        "MAX_FORM_PARTS": 2000,
        "ASSETS_FOLDER": os.environ.get(
            "PORTAL_ASSETS_FOLDER", str(Path(__file__).resolve().parent.parent / "node_modules")
        ),
        "RQ_QUEUES": ["default"],
        # Runs (with their エラー詳細 / メッセージ詳細) older than this are purged every hour.
        "RUN_RETENTION_DAYS": _positive_int("RUN_RETENTION_DAYS", 400),
        # The 連携ログ counts at most this many runs from the page shown (「1-5 of 1,000+」).
        "RUN_LOG_COUNT_LIMIT": _positive_int("RUN_LOG_COUNT_LIMIT", 1000),
        # "text" (key=value lines) or "json" (one JSON object per line, for log collectors).
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text").strip().lower() or "text",
        # Set by `flask demo run` for its web process: the sandboxes behind 「デモ環境の接続情報」.
        "DEMO_KINTONE_URL": os.environ.get("DEMO_KINTONE_URL") or None,
        "DEMO_HAIHAI_URL": os.environ.get("DEMO_HAIHAI_URL") or None,
        # Bearer token that lets a monitor see /healthz's details (off when unset).
        "HEALTHZ_TOKEN": os.environ.get("HEALTHZ_TOKEN") or None,
    }
