"""連携ログ paging by key: next/prev links walk every run exactly once, pages stay put while
runs arrive, the count stops at its limit (「1-5 of 10+」), and every query uses an index."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import event

from portal.db import session_scope
from portal.models import Connector, Run
from portal.models.runs import SUCCEEDED
from tests.support.accounts import create_account, sign_in

HX = {"HX-Request": "true"}
BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def app_config(app_config):
    """The suite's settings with a small count limit, so the lower bound shows early."""
    return {**app_config, "RUN_LOG_COUNT_LIMIT": 10}


@pytest.fixture
def account(app):
    return create_account(app, "HC0001")


@pytest.fixture
def signed_in(client, account):
    sign_in(client, account)
    return client


def add_connector(app, account_id: int, name: str = "配配メール-kintone連携01") -> str:
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account_id, name=name)
        session.add(connector)
        session.flush()
        return connector.id


def add_runs(app, connector_id: str, count: int, *, same_time: bool = False) -> list[str]:
    """`count` finished runs, one minute apart (or all at one instant); ids oldest first."""
    ids = []
    with app.app_context(), session_scope() as session:
        for n in range(count):
            run = Run(
                connector_id=connector_id,
                process_key="customer:1",
                status=SUCCEEDED,
                processed=n,
                total=n,
                created_at=BASE if same_time else BASE + dt.timedelta(minutes=n),
            )
            session.add(run)
            session.flush()
            ids.append(run.id)
    return ids


def shown(body: str) -> list[str]:
    return re.findall(r'<tr id="run-([0-9A-Z]{26})"', body)


def range_text(body: str) -> str:
    return re.search(r'id="run-log-range">([^<]*)<', body).group(1)


def link(body: str, element_id: str) -> str | None:
    """The hx-get of the pager button `element_id`, or None when it is disabled."""
    tag = re.search(rf'<button[^>]*id="{element_id}"[^>]*>', body, re.S).group(0)
    if "disabled" in tag:
        return None
    return html.unescape(re.search(r'hx-get="([^"]+)"', tag).group(1))


def walk(client, first_url: str, button: str) -> list[tuple[str, list[str]]]:
    """Follow pager button `button` from `first_url` until it is disabled: (range, ids) each."""
    pages, url = [], first_url
    while url:
        body = client.get(url, headers=HX).get_data(as_text=True)
        pages.append((range_text(body), shown(body)))
        url = link(body, button)
        assert len(pages) < 50, "the pager never ends"
    return pages


def test_next_links_walk_every_run_once_and_prev_links_walk_back(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = add_runs(app, connector, 23)
    newest_first = list(reversed(ids))

    forward = walk(signed_in, "/runs/log?per_page=5", "run-log-next")
    assert [ids for _, ids in forward] == [newest_first[n : n + 5] for n in range(0, 23, 5)]
    # Count limit 10: a lower bound until the rest of the log fits under it.
    assert [text for text, _ in forward] == [
        "1-5 of 10+",
        "6-10 of 15+",
        "11-15 of 20+",
        "16-20 of 23",
        "21-23 of 23",
    ]

    last_page = signed_in.get(
        f"/runs/log?per_page=5&page=5&start={newest_first[20]}", headers=HX
    ).get_data(as_text=True)
    assert link(last_page, "run-log-next") is None
    backward = walk(
        signed_in, f"/runs/log?per_page=5&page=5&start={newest_first[20]}", "run-log-prev"
    )
    assert [ids for _, ids in backward] == [ids for _, ids in reversed(forward)]


def test_runs_created_at_the_same_instant_are_paged_by_id_without_skips(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = add_runs(app, connector, 12, same_time=True)
    pages = walk(signed_in, "/runs/log?per_page=5", "run-log-next")
    seen = [run_id for _, page in pages for run_id in page]
    assert seen == sorted(ids, reverse=True)


def test_a_page_keeps_its_rows_when_new_runs_arrive(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = add_runs(app, connector, 12)
    first = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    second_url = link(first, "run-log-next")
    second = signed_in.get(second_url, headers=HX).get_data(as_text=True)
    assert shown(second) == list(reversed(ids))[5:10]
    refresh = html.unescape(re.search(r'<div id="run-log" hx-get="([^"]+)"', second).group(1))

    with app.app_context(), session_scope() as session:
        run = Run(
            connector_id=connector, process_key="view_url", created_at=BASE + dt.timedelta(days=1)
        )
        session.add(run)
        session.flush()
        newest = run.id

    again = signed_in.get(refresh, headers=HX).get_data(as_text=True)
    assert shown(again) == shown(second)  # the same runs, not shifted by the new one
    top = signed_in.get("/runs/log", headers=HX).get_data(as_text=True)
    assert shown(top)[0] == newest
    assert range_text(top) == "1-5 of 10+"  # 13 runs, count limit 10


def test_connector_filter_pages_only_that_connectors_runs(app, signed_in, account):
    mine = add_connector(app, account.id, "連携A")
    other = add_connector(app, account.id, "連携B")
    wanted = add_runs(app, mine, 7)
    add_runs(app, other, 9)
    pages = walk(signed_in, f"/runs/log?connector={mine}&per_page=5", "run-log-next")
    assert [run_id for _, page in pages for run_id in page] == list(reversed(wanted))
    assert [text for text, _ in pages] == ["1-5 of 7", "6-7 of 7"]
    everything = signed_in.get("/runs/log?per_page=5", headers=HX).get_data(as_text=True)
    assert range_text(everything) == "1-5 of 10+"


def test_keys_of_other_accounts_or_garbage_fall_back_to_the_page_number(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = list(reversed(add_runs(app, connector, 8)))
    stranger = create_account(app, "HC0099")
    foreign = add_runs(app, add_connector(app, stranger.id, "他社"), 3)
    body = signed_in.get(f"/runs/log?page=2&start={foreign[0]}", headers=HX).get_data(as_text=True)
    assert shown(body) == ids[5:8] and foreign[0] not in body
    body = signed_in.get("/runs/log?page=2&after=not-a-run-id", headers=HX).get_data(as_text=True)
    assert shown(body) == ids[5:8]
    assert range_text(body) == "6-8 of 8"


def test_prev_from_near_the_top_shows_the_first_page(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = list(reversed(add_runs(app, connector, 9)))
    # "after" the third-newest run: fewer than a page lies above it, so page 1 is shown whole.
    body = signed_in.get(f"/runs/log?page=2&after={ids[2]}", headers=HX).get_data(as_text=True)
    assert shown(body) == ids[:5]
    assert range_text(body) == "1-5 of 9"


def _explain(connection, statement: str, parameters) -> str:
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in rows)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in rows)


def test_every_query_of_a_log_page_reads_runs_through_an_index_in_order(app, signed_in, account):
    connector = add_connector(app, account.id)
    ids = list(reversed(add_runs(app, connector, 30)))
    statements: list[tuple[str, object]] = []
    engine = app.extensions["db_engine"]

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM runs" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    per_request = {}
    try:
        for url, expected in (
            ("/runs/log", 1),
            (f"/runs/log?page=3&start={ids[10]}", 1),
            (f"/runs/log?page=3&after={ids[15]}", 1),
            (f"/runs/log?per_page=5&page=4&connector={connector}&start={ids[15]}", 1),
            ("/runs/log?page=5", 2),  # a bare page number: its key first, then the page
        ):
            before = len(statements)
            assert signed_in.get(url, headers=HX).status_code == 200
            per_request[url] = (len(statements) - before, expected)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    # One statement reads a page, its next key and its (capped) count together.
    assert all(got == expected for got, expected in per_request.values()), per_request
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = _explain(connection, statement, parameters)
            if connection.dialect.name == "sqlite":
                assert re.search(
                    r"USING (COVERING )?INDEX (ix_runs_|sqlite_autoindex_runs)", plan
                ), plan
                assert "SCAN runs" not in plan and "TEMP B-TREE" not in plan, (statement, plan)
            else:
                assert "Seq Scan on runs" not in plan and "Sort" not in plan, (statement, plan)


def test_the_query_never_pages_another_accounts_connector(app, account):
    from portal.db import get_session
    from portal.runs.log_pages import log_page

    stranger = create_account(app, "HC0099")
    foreign = add_connector(app, stranger.id, "他社")
    add_runs(app, foreign, 4)
    with app.app_context():
        page = log_page(get_session(), account.id, connector_id=foreign)
        assert (page.rows, page.total, page.has_next) == ([], 0, False)
        assert len(log_page(get_session(), stranger.id, connector_id=foreign).rows) == 4
