"""The migration history is linear and applies to an empty database on every engine."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

import portal.models  # noqa: F401 - registers every table
from portal import migrate
from tests.conftest import DB_ENGINES, POSTGRES_ADMIN_URL


def test_migration_history_has_exactly_one_head():
    assert len(migrate.heads()) == 1


def _empty_database(engine_name: str, tmp_path) -> tuple[str, callable]:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}", lambda: None
    name = f"portal_migration_{tmp_path.name[-20:]}".replace("-", "_").lower()
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def test_upgrade_from_empty_creates_every_model_table_on_each_engine(tmp_path):
    for engine_name in DB_ENGINES:
        url, drop = _empty_database(engine_name, tmp_path)
        try:
            migrate.upgrade(url, "head")
            engine = sa.create_engine(url)
            tables = set(sa.inspect(engine).get_table_names())
            engine.dispose()
            expected = {table.name for table in SQLModel.metadata.sorted_tables}
            assert expected <= tables, f"{engine_name}: missing {expected - tables}"
            assert "alembic_version" in tables
        finally:
            drop()


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    for engine_name in DB_ENGINES:
        url, drop = _empty_database(engine_name, tmp_path)
        try:
            migrate.upgrade(url, "head")
            migrate.downgrade(url, "base")
            engine = sa.create_engine(url)
            assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
            engine.dispose()
            migrate.upgrade(url, "head")
        finally:
            drop()


def test_models_match_migrations_without_pending_changes(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'compare.sqlite3'}"
    migrate.upgrade(url, "head")
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []
