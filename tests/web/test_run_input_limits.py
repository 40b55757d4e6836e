"""Bounded input: request size, only declared run parameters, no params in the 連携ログ."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlmodel import select

from portal.db import session_scope
from portal.models import Run
from tests.jobs.conftest import redis_url_with_db
from tests.support.accounts import create_account, sign_in
from tests.web.test_runs_views import HX, RUNS_REDIS_DB, add_connector, add_run, set_view_url_timing


@pytest.fixture
def app_config(app_config, redis_url):
    """The suite's settings with the Redis database of the run view tests."""
    return {**app_config, "REDIS_URL": redis_url_with_db(redis_url, RUNS_REDIS_DB)}


@pytest.fixture
def account(app):
    return create_account(app, "HC0001")


@pytest.fixture
def connector_id(app, account) -> str:
    return add_connector(app, account.id, "配配メール-kintone連携01")


@pytest.fixture
def signed_in(client, account):
    sign_in(client, account)
    return client


def _runs(app) -> list[Run]:
    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Run)).all())


def test_a_body_over_the_limit_is_refused_in_japanese_and_stores_nothing(
    app, signed_in, connector_id
):
    set_view_url_timing(app, connector_id, "manual")
    fields = {f"f{i}": "x" * 400_000 for i in range(8)}  # 3.2 MB, the limit is 2 MiB
    response = signed_in.post(f"/connectors/{connector_id}/run/view_url", data=fields)
    assert response.status_code == 413
    assert "送信された内容が大きすぎます。" in response.get_data(as_text=True)
    assert _runs(app) == []

    over_htmx = signed_in.post(f"/connectors/{connector_id}/run/view_url", data=fields, headers=HX)
    assert over_htmx.status_code == 413
    assert over_htmx.headers["Content-Type"].startswith("text/plain")
    assert over_htmx.get_data(as_text=True).startswith("送信された内容が大きすぎます。")
    assert _runs(app) == []


def test_one_multipart_field_over_the_per_field_limit_is_refused(app, signed_in, connector_id):
    import io

    set_view_url_timing(app, connector_id, "manual")
    data = {"note": "x" * 300_000, "upload": (io.BytesIO(b"x"), "x.txt")}
    response = signed_in.post(f"/connectors/{connector_id}/run/view_url", data=data)
    assert response.status_code == 413
    assert _runs(app) == []


def test_undeclared_fields_never_reach_the_run(app, signed_in, connector_id):
    set_view_url_timing(app, connector_id, "manual")
    junk = {f"field{i}": "x" * 1000 for i in range(100)}
    response = signed_in.post(f"/connectors/{connector_id}/run/view_url", data=junk, headers=HX)
    assert response.status_code == 200
    [run] = _runs(app)
    assert run.params == {}


def test_the_plugin_parameters_cannot_be_given_to_a_manual_run(app, signed_in, connector_id):
    set_view_url_timing(app, connector_id, "manual")
    data = {"setting": "1", "query": 'email = "x"', "csrf_token": "t"}
    response = signed_in.post(f"/connectors/{connector_id}/run/view_url", data=data, headers=HX)
    assert response.status_code == 200
    [run] = _runs(app)
    assert run.params == {}


@pytest.fixture
def statements(app):
    """Every SQL statement the app's engine runs while the test goes on."""
    seen: list[str] = []
    engine = app.extensions["db_engine"]

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_the_log_and_its_rows_never_read_run_params(app, signed_in, connector_id, statements):
    run_id = add_run(app, connector_id, params={"blob": "x" * 1_000_000}, status="running")
    add_run(app, connector_id, params={"blob": "y"}, status="failed", error_detail="失敗")
    statements.clear()
    for url in (
        f"/runs/log?connector={connector_id}",
        "/runs/log",
        f"/runs/{run_id}/row",
        f"/connectors/{connector_id}/run",
        "/",
    ):
        response = signed_in.get(url, headers=HX)
        assert response.status_code in (200, 286), url
        assert "x" * 1000 not in response.get_data(as_text=True)
    run_selects = [s for s in statements if "FROM runs" in s]
    assert run_selects, "the log queried no runs"
    assert not [s for s in run_selects if "runs.params" in s]
