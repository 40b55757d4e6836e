"""The connector-type seam: every process is complete, and a new type needs no edit elsewhere."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.connector_types import registry
from portal.models import Connector, Run
from portal.models.runs import FAILED, SUCCEEDED
from tests.jobs.conftest import wait_for
from tests.support import echo_connector
from tests.support.accounts import create_account, sign_in

ECHO_MODULE = "tests.support.echo_connector"


def test_every_registered_process_has_a_handler_a_section_and_a_name():
    processes = registry.all_processes()
    assert {"customer:1", "customer_plugin", "view_url"} <= {p.key for p in processes}
    builtin = {registry.get_connector_type("haihai_kintone")}
    for connector_type in builtin:  # test types registered by other job tests have no Steps
        section_keys = {section.key for section in connector_type.sections}
        for process in connector_type.processes:
            assert callable(process.handler), process.key
            assert process.name and process.group, process.key
            assert process.section in section_keys, process.key


def test_the_registry_refuses_duplicates_and_incomplete_processes():
    haihai = registry.get_connector_type("haihai_kintone")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_connector_type(
            registry.ConnectorType("haihai_kintone", "x", (), (), lambda *a: None)
        )
    clash = registry.ConnectorType("clash", "x", (), (haihai.processes[0],), lambda *a: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_connector_type(clash)
    orphan = registry.ProcessSpec("orphan", "孤立", "g", lambda c: None, section="nowhere")
    with pytest.raises(ValueError, match="unknown section"):
        registry.register_connector_type(
            registry.ConnectorType("orphan_type", "x", (), (orphan,), lambda *a: None)
        )
    assert not registry.is_known_kind("clash") and not registry.is_known_kind("orphan_type")


def test_a_broken_type_module_stops_the_start_up(monkeypatch):
    monkeypatch.setenv(registry.EXTRA_TYPES_ENV, "tests.support.no_such_connector_type")
    with pytest.raises(ModuleNotFoundError):
        registry.load_connector_types()


@pytest.fixture
def echo(jobs):
    """The throw-away type registered in this process and in the workers of the test."""
    registry.load_connector_types(extra=[ECHO_MODULE])
    from portal.connector_types.wiring import init_app

    init_app(jobs.app)
    jobs.app.config["WTF_CSRF_ENABLED"] = False
    jobs.env["PORTAL_EXTRA_CONNECTOR_TYPES"] += f",{ECHO_MODULE}"
    yield jobs
    registry.unregister_connector_type(echo_connector.KIND)
    registry._loaded_modules.discard(ECHO_MODULE)
    echo_connector.STORED.clear()


def test_a_new_type_is_offered_configured_run_and_logged_without_edits_elsewhere(echo):
    app = echo.app
    account = create_account(app, "HC0900")
    client = app.test_client()
    sign_in(client, account)

    listing = client.get("/").get_data(as_text=True)
    assert '<option value="test_echo">テスト用エコー連携</option>' in listing
    created = client.post("/connectors", data={"kind": "test_echo", "name": "エコー01"})
    assert created.status_code in (200, 302, 303)
    with app.app_context():
        from portal.db import session_scope

        with session_scope() as session:
            connector = session.exec(select(Connector).where(Connector.name == "エコー01")).one()
            connector_id, kind = connector.id, connector.kind
    assert kind == "test_echo"

    settings = client.get(f"/connectors/{connector_id}/settings").get_data(as_text=True)
    assert "Step1. エコー設定" in settings and "テスト用エコー連携" in settings
    assert "Step2. 配配メール連携設定" not in settings
    refused = client.post(
        f"/connectors/{connector_id}/settings", data={"echo-timing": "x", "echo-message": ""}
    )
    assert refused.status_code == 422
    assert "連携タイミングを選択してください。" in refused.get_data(as_text=True)
    saved = client.post(
        f"/connectors/{connector_id}/settings",
        data={"echo-timing": "manual", "echo-message": "ok"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "保存しました" in saved.get_data(as_text=True)

    run_page = client.get(f"/connectors/{connector_id}/run").get_data(as_text=True)
    assert "エコー処理" in run_page and 'name="text"' in run_page
    assert not re.search(r"<button[^>]*disabled[^>]*>実行する", run_page)
    assert "顧客情報連携" not in run_page

    started = client.post(
        f"/connectors/{connector_id}/run/test_echo:run",
        data={"text": "やまびこ", "smuggled": "x" * 1000},
    )
    assert started.status_code in (200, 302, 303)
    echo.burst(name="echo-worker")
    with app.app_context():
        from portal.db import session_scope

        with session_scope() as session:
            run = session.exec(select(Run).where(Run.connector_id == connector_id)).one()
            assert run.params == {"text": "やまびこ"}  # undeclared parameters are dropped
            assert (run.status, run.processed, run.total) == (SUCCEEDED, 1, 1)
            assert run.message_detail == "エコー: やまびこ"
            run_id = run.id
    log = client.get(f"/runs/log?connector={connector_id}").get_data(as_text=True)
    assert f'id="run-{run_id}"' in log and "エコー01 / エコー処理" in log

    client.post(f"/connectors/{connector_id}/run/test_echo:run", data={"text": "fail"})
    echo.burst(name="echo-worker-2")

    def failed_run():
        with app.app_context():
            from portal.db import session_scope

            with session_scope() as session:
                return session.exec(
                    select(Run).where(Run.connector_id == connector_id, Run.status == FAILED)
                ).first()

    failing = wait_for(failed_run, timeout=10)
    assert failing.error_detail == "エコー処理が指示どおり失敗しました。"
