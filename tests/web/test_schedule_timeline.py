"""The schedule timeline on the settings page: next firings of every saved schedule, merged."""

from __future__ import annotations

import datetime as dt
import re

from portal.db import session_scope
from portal.models import Connector
from portal.runs.service import replace_schedules
from portal.syncs.config import MONTH_END, ScheduleSpec
from tests.support.accounts import create_account, sign_in


def _connector(app, account_id: int) -> str:
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account_id, name="タイムライン確認")
        session.add(connector)
        session.flush()
        return connector.id


def _schedules(app, connector_id: str, specs: dict) -> None:
    with app.app_context(), session_scope() as session:
        replace_schedules(session, connector_id, specs)


def _entries(html: str) -> list[tuple[str, str]]:
    items = re.findall(
        r'<span class="ms-2 me-auto">([^<]+)</span>\s*<span class="font-monospace">([^<]+)</span>',
        html,
    )
    return [(name.strip(), when.strip()) for name, when in items]


def test_timeline_merges_every_schedule_in_time_order_in_the_account_time_zone(app, client):
    account = create_account(app)
    sign_in(client, account)
    connector_id = _connector(app, account.id)
    _schedules(
        app,
        connector_id,
        {
            "customer:1": ScheduleSpec("daily", hours=(9, 21), minutes=(30,)),
            "view_url": ScheduleSpec("monthly", month_days=(MONTH_END,), hours=(23,), minutes=(0,)),
        },
    )
    response = client.get(f"/connectors/{connector_id}/schedule-timeline")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    entries = _entries(html)
    assert len(entries) == 12
    names = {name for name, _ in entries}
    assert names <= {"顧客情報連携 1", "顧客閲覧URL連携"}
    assert "顧客情報連携 1" in names
    times = [dt.datetime.strptime(when, "%Y年%m月%d日 %H:%M:%S") for _, when in entries]
    assert times == sorted(times)
    # Daily firings are at 09:30 and 21:30 Tokyo time, whatever the server's zone.
    assert {
        t.strftime("%H:%M")
        for t, (name, _) in zip(times, entries, strict=True)
        if name == "顧客情報連携 1"
    } <= {"09:30", "21:30"}
    assert "毎日" in html and "月末日" in html


def test_timeline_without_schedules_says_so(app, client):
    account = create_account(app)
    sign_in(client, account)
    connector_id = _connector(app, account.id)
    html = client.get(f"/connectors/{connector_id}/schedule-timeline").get_data(as_text=True)
    assert "スケジュール実行が設定された連携処理はありません。" in html
    assert _entries(html) == []


def test_timeline_of_another_accounts_connector_answers_404(app, client):
    owner = create_account(app, "OWNER1")
    intruder = create_account(app, "OTHER1")
    connector_id = _connector(app, owner.id)
    sign_in(client, intruder)
    assert client.get(f"/connectors/{connector_id}/schedule-timeline").status_code == 404


def test_settings_page_loads_the_timeline_and_refreshes_it_after_saving(app, client):
    account = create_account(app)
    sign_in(client, account)
    connector_id = _connector(app, account.id)
    page = client.get(f"/connectors/{connector_id}/settings").get_data(as_text=True)
    assert f'hx-get="/connectors/{connector_id}/schedule-timeline"' in page
    partial = client.get(f"/connectors/{connector_id}/schedule-timeline").get_data(as_text=True)
    assert 'hx-trigger="settingsSaved from:body"' in partial
