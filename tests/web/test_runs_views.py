"""実行 page, 連携ログ partial (paging, formats, polling, 286), detail dialogs, row actions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import redis
from rq.job import Job
from sqlmodel import select

from portal.db import session_scope
from portal.models import Connector, Run
from portal.models.runs import FAILED, QUEUED, RUNNING, SUCCEEDED
from tests.jobs.conftest import redis_url_with_db
from tests.support.accounts import create_account, sign_in

HX = {"HX-Request": "true"}
RUNS_REDIS_DB = 14


@pytest.fixture
def app_config(app_config, redis_url):
    """The suite's settings with a Redis database of its own for the queued jobs."""
    url = redis_url_with_db(redis_url, RUNS_REDIS_DB)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    conn.close()
    return {**app_config, "REDIS_URL": url}


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


def add_connector(app, account_id: int, name: str) -> str:
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account_id, name=name)
        session.add(connector)
        session.flush()
        return connector.id


def set_view_url_timing(app, connector_id: str, timing: str) -> None:
    from portal.models.settings import ViewUrlSettingsRow

    with app.app_context(), session_scope() as session:
        session.merge(
            ViewUrlSettingsRow(connector_id=connector_id, timing=timing, target_field="url")
        )


def add_run(app, connector_id: str, **values) -> str:
    with app.app_context(), session_scope() as session:
        run = Run(connector_id=connector_id, **{"process_key": "customer:1", **values})
        session.add(run)
        session.flush()
        return run.id


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- 実行 page ------------------------------------------------------------------------------


def test_run_page_lists_processes_and_disables_those_set_to_off(app, signed_in, connector_id):
    set_view_url_timing(app, connector_id, "manual")
    page = signed_in.get(f"/connectors/{connector_id}/run")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = dict(
        re.findall(r'data-process-key="([^"]+)".*?(<button[^>]*>実行する</button>)', html, re.S)
    )
    # Only registered processes are listed; the plugin's run is started from kintone.
    assert list(rows) == [
        "customer:1",
        "stop_ban",
        "view_url",
        "reaction",
        "bridge",
    ]  # manual order
    assert "disabled" not in rows["view_url"]
    for off in ("customer:1", "stop_ban", "reaction", "bridge"):
        assert "disabled" in rows[off]
    for name in ("顧客情報連携 1", "配信停止 / 禁止顧客一覧連携", "顧客閲覧URL連携"):
        assert name in html
    assert "kintoneからの実行" not in html
    assert 'id="run-log"' in html  # the 連携ログ of this connector below the buttons


def test_pressing_run_creates_a_queued_run_enqueues_it_and_refreshes_the_log(
    app, signed_in, connector_id
):
    set_view_url_timing(app, connector_id, "manual")
    response = signed_in.post(f"/connectors/{connector_id}/run/view_url", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "runs-changed"
    with app.app_context(), session_scope() as session:
        run = session.exec(select(Run)).one()
        assert (run.process_key, run.trigger, run.status) == ("view_url", "manual", QUEUED)
        run_id = run.id
    assert f"タスクID:{run_id}" in response.get_data(as_text=True)
    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    try:
        job = Job.fetch(f"run-{run_id}", connection=conn)
        assert job.func_name == "jobs.runs.run_sync" and tuple(job.args) == (run_id,)
    finally:
        conn.close()

    log = signed_in.get(f"/runs/log?connector={connector_id}", headers=HX).get_data(as_text=True)
    assert f'id="run-{run_id}"' in log
    assert "顧客閲覧URL連携" in text_of(log) and "待機中" in text_of(log)


def test_a_process_set_to_off_cannot_be_started(app, signed_in, connector_id):
    response = signed_in.post(f"/connectors/{connector_id}/run/customer:1", headers=HX)
    assert response.status_code == 422
    assert "連携しない" in response.get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        assert session.exec(select(Run)).all() == []


def test_other_accounts_connectors_and_runs_answer_404(app, signed_in, connector_id):
    stranger = create_account(app, "HC0099")
    foreign = add_connector(app, stranger.id, "他社の連携")
    set_view_url_timing(app, foreign, "manual")
    foreign_run = add_run(app, foreign, status=FAILED, error_detail="x")
    assert signed_in.get(f"/connectors/{foreign}/run").status_code == 404
    assert signed_in.post(f"/connectors/{foreign}/run/view_url", headers=HX).status_code == 404
    assert signed_in.get(f"/runs/{foreign_run}/row", headers=HX).status_code == 404
    assert signed_in.get(f"/runs/{foreign_run}/error", headers=HX).status_code == 404
    assert signed_in.get(f"/runs/log?connector={foreign}", headers=HX).status_code == 404
    log = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    assert foreign_run not in log


def test_unknown_process_answers_404(signed_in, connector_id):
    assert signed_in.post(f"/connectors/{connector_id}/run/nothing", headers=HX).status_code == 404


def test_anonymous_requests_go_to_the_login_page(client, connector_id):
    assert client.get(f"/connectors/{connector_id}/run").status_code == 302
    response = client.get("/runs/log", headers=HX)
    assert "/login" in response.headers.get("HX-Redirect", "")


# --- 連携ログ ------------------------------------------------------------------------------


def test_log_shows_the_manuals_columns_and_formats(app, signed_in, connector_id):
    add_run(
        app,
        connector_id,
        status=SUCCEEDED,
        processed=4,
        total=4,
        created_at=utc(2023, 2, 15, 8, 15, 20),
        started_at=utc(2023, 2, 15, 8, 15, 24),
        finished_at=utc(2023, 2, 15, 8, 15, 38),
    )
    html = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    text = text_of(html)
    for header in ("コネクタ名 / 連携処理名", "処理時間", "ステータス", "処理件数"):
        assert header in text
    assert "配配メール-kintone連携01 / 顧客情報連携 1" in text
    assert "2023年02月15日 17:15:24 - 17:15:38" in text  # Asia/Tokyo
    assert "成功" in text and "4 / 4" in text
    assert "1-1 of 1" in text


def test_log_pages_newest_first_with_per_page_choice(app, signed_in, connector_id):
    base = utc(2024, 1, 1, 0, 0, 0)
    ids = [
        add_run(
            app,
            connector_id,
            status=SUCCEEDED,
            created_at=base + dt.timedelta(minutes=n),
            processed=n,
            total=n,
        )
        for n in range(12)
    ]
    first = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    shown = re.findall(r'id="run-([0-9A-Z]{26})"', first)
    assert shown == list(reversed(ids))[:5]
    assert "1-5 of 12" in text_of(first)
    assert re.search(r'id="run-log-prev"[^>]*disabled', first)
    assert not re.search(r'id="run-log-next"[^>]*disabled', first)
    assert "1ページ当たりの件数" in first

    last = signed_in.get("/runs/log?page=3&per_page=5", headers=HX).get_data(as_text=True)
    assert re.findall(r'id="run-([0-9A-Z]{26})"', last) == [ids[1], ids[0]]
    assert "11-12 of 12" in text_of(last)
    assert re.search(r'id="run-log-next"[^>]*disabled', last)

    ten = signed_in.get("/runs/log?per_page=10&page=2", headers=HX).get_data(as_text=True)
    assert "11-12 of 12" in text_of(ten)
    odd = signed_in.get("/runs/log?per_page=7&page=99", headers=HX).get_data(as_text=True)
    assert "11-12 of 12" in text_of(odd)  # unknown size → 5 per page; page clamped to the last


def test_unfinished_rows_poll_themselves_and_finished_rows_stop(app, signed_in, connector_id):
    running = add_run(
        app,
        connector_id,
        status=RUNNING,
        processed=40,
        total=100,
        progress=0.4,
        started_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=20),
    )
    done = add_run(
        app,
        connector_id,
        status=SUCCEEDED,
        processed=1,
        total=1,
        finished_at=dt.datetime.now(dt.UTC),
    )
    log = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    running_row = re.search(rf'<tr id="run-{running}"[^>]*>', log).group(0)
    done_row = re.search(rf'<tr id="run-{done}"[^>]*>', log).group(0)
    assert 'hx-trigger="load delay:2s"' in running_row and f"/runs/{running}/row" in running_row
    assert "hx-trigger" not in done_row

    polled = signed_in.get(f"/runs/{running}/row", headers=HX)
    assert polled.status_code == 200
    body = polled.get_data(as_text=True)
    assert 'hx-trigger="load delay:2s"' in body
    assert "処理中" in body and body.count("40 / 100") == 1  # once, in the count column
    assert '<div class="text-secondary small run-progress-text">40% ・ 残り約' in body
    assert 'aria-valuenow="40"' in body
    # 40 in 20 s → 60 left ≈ 30 s, plus 1.5 s per second the test itself took to get here.
    left = re.search(r"残り約(\d+)秒", body)
    assert left and 30 <= int(left.group(1)) <= 40

    with app.app_context(), session_scope() as session:
        run = session.get(Run, running)
        run.status, run.processed, run.finished_at = SUCCEEDED, 100, dt.datetime.now(dt.UTC)
        session.add(run)
    finished = signed_in.get(f"/runs/{running}/row", headers=HX)
    assert finished.status_code == 286
    assert finished.headers["HX-Trigger"] == "runs-changed"
    assert "hx-trigger" not in finished.get_data(as_text=True)
    assert "成功" in finished.get_data(as_text=True)


def test_error_and_message_dialogs_show_the_text_and_the_task_id(app, signed_in, connector_id):
    busy = "他の処理が実行されています。時間を置いて再度実行してください。再実行しても失敗する場合は、サポートにご連絡ください。"
    failed = add_run(
        app, connector_id, status=FAILED, error_detail=busy, finished_at=dt.datetime.now(dt.UTC)
    )
    detail = "メール開封\n連携されたデータ: 2023-06-07 17:41:36 ~ 2023-06-07 20:21:04"
    diff = add_run(
        app,
        connector_id,
        process_key="reaction",
        status=SUCCEEDED,
        message_detail=detail,
        finished_at=dt.datetime.now(dt.UTC),
    )
    log = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    assert f"/runs/{failed}/error" in log and f"/runs/{diff}/message" in log

    dialog = signed_in.get(f"/runs/{failed}/error", headers=HX).get_data(as_text=True)
    assert "エラー詳細" in dialog and busy in dialog
    assert f"タスクID:{failed}" in dialog and "閉じる" in dialog and "data-autoshow" in dialog

    message = signed_in.get(f"/runs/{diff}/message", headers=HX).get_data(as_text=True)
    assert "メッセージ詳細" in message and "連携されたデータ: 2023-06-07 17:41:36" in message
    assert f"タスクID:{diff}" in message
    assert signed_in.get(f"/runs/{diff}/error", headers=HX).status_code == 404


# --- the connector list's pieces and the schedule editor -----------------------------------


def test_connector_list_has_run_button_and_log_container(signed_in, connector_id):
    html = signed_in.get("/").get_data(as_text=True)
    assert f'href="/connectors/{connector_id}/run"' in html
    # The log comes with the page (first page, re-read on every run change).
    assert re.search(
        r'id="run-log" hx-get="/runs/log\?[^"]*" hx-trigger="runs-changed from:body"', html
    )
    assert 'id="run-log-table"' in html and 'id="run-log-range">0-0 of 0<' in html
    assert "連携ログ" in html


def test_schedule_editor_re_renders_for_the_chosen_interval(signed_in):
    html = signed_in.get(
        "/runs/schedule-editor?prefix=view_url&variant=standard&view_url-timing=schedule&view_url-interval=monthly&view_url-month_day=last&view_url-hours=13&view_url-minute=45",
        headers=HX,
    ).get_data(as_text=True)
    assert 'name="view_url-month_day"' in html
    assert re.search(r'<option value="last"\s+selected>月末日</option>', html)
    assert re.search(r'id="view_url-hours-13"[^>]*checked', html)
    assert re.search(r'<option value="45"\s+selected>45</option>', html)
    manual = signed_in.get(
        "/runs/schedule-editor?prefix=view_url&variant=standard&view_url-timing=manual", headers=HX
    ).get_data(as_text=True)
    assert "schedule-fields" not in manual
    assert re.search(r'id="view_url-timing-manual"[^>]*checked', manual)
    bridge = signed_in.get(
        "/runs/schedule-editor?prefix=bridge&variant=bridge&bridge-timing=schedule&bridge-interval=every_30_minutes",
        headers=HX,
    ).get_data(as_text=True)
    assert "30分毎" in bridge and "10, 40" in bridge and "bridge-hours" not in bridge
