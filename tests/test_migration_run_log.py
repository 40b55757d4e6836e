"""Migration 0005_run_log: existing runs get their connector's account; the log's indexes exist."""

from __future__ import annotations

import sqlalchemy as sa

from portal import migrate
from tests.conftest import DB_ENGINES
from tests.test_migrations import _empty_database


def test_existing_runs_take_their_connectors_account_on_every_engine(tmp_path):
    for engine_name in DB_ENGINES:
        url, drop = _empty_database(engine_name, tmp_path)
        try:
            migrate.upgrade(url, "0004")
            engine = sa.create_engine(url)
            with engine.begin() as connection:
                for account_id, code in ((1, "HC0001"), (2, "HC0002")):
                    connection.execute(
                        sa.text(
                            "INSERT INTO accounts (id, connector_id, email, password_hash,"
                            " must_change_password, disabled, timezone, session_version,"
                            " created_at) VALUES (:id, :code, 'a@example.jp', 'x', false, false,"
                            " 'Asia/Tokyo', 1, CURRENT_TIMESTAMP)"
                        ),
                        {"id": account_id, "code": code},
                    )
                    connection.execute(
                        sa.text(
                            "INSERT INTO connectors (id, account_id, kind, name, created_at,"
                            " updated_at) VALUES (:id, :account, 'haihai_kintone', 'c',"
                            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        ),
                        {"id": f"C{account_id}".ljust(26, "0"), "account": account_id},
                    )
                for n, account_id in enumerate((1, 2, 2)):
                    connection.execute(
                        sa.text(
                            "INSERT INTO runs (id, connector_id, process_key, trigger, status,"
                            " processed, total, progress, params, created_at) VALUES (:id,"
                            " :connector, 'view_url', 'manual', 'succeeded', 0, 0, 0, '{}',"
                            " CURRENT_TIMESTAMP)"
                        ),
                        {
                            "id": f"R{n}".ljust(26, "0"),
                            "connector": f"C{account_id}".ljust(26, "0"),
                        },
                    )
            engine.dispose()

            migrate.upgrade(url, "head")
            engine = sa.create_engine(url)
            with engine.connect() as connection:
                owners = connection.execute(
                    sa.text("SELECT id, account_id FROM runs ORDER BY id")
                ).all()
            indexes = {index["name"] for index in sa.inspect(engine).get_indexes("runs")}
            engine.dispose()
            assert [tuple(row) for row in owners] == [
                ("R0".ljust(26, "0"), 1),
                ("R1".ljust(26, "0"), 2),
                ("R2".ljust(26, "0"), 2),
            ], engine_name
            assert {"ix_runs_account_log", "ix_runs_connector_log", "ix_runs_created_at"} <= indexes
            assert "ix_runs_connector_id_created_at" not in indexes
        finally:
            drop()
