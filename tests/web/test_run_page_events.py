"""The 実行 page of the import processes: 差分 / 全件, 「… まで連携済」, 連携対象, the 7-day rule."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.db import session_scope
from portal.models import Run
from portal.models.event_imports import EventWatermark
from tests.support.event_env import TOKYO, make_reaction_env
from tests.support.settings_env import HX, field_error, make_env, text_of

FULL = {
    "mode": "full",
    "start_date": "2023-06-01",
    "start_hour": "0",
    "start_minute": "0",
    "end_date": "2023-06-07",
    "end_hour": "23",
    "end_minute": "59",
}


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def reaction(app, client, kintone_sandbox, haihai_sandbox):
    return make_reaction_env(make_env(app, client, kintone_sandbox, haihai_sandbox))


def _runs(app) -> list[Run]:
    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Run)).all())


def test_run_page_shows_diff_full_and_how_far_each_type_was_imported(reaction):
    import datetime as dt

    env = reaction.env
    with env.app.app_context(), session_scope() as session:
        for stream, moment in (("open", (20, 21, 4)), ("click", (20, 21, 6))):
            session.add(
                EventWatermark(
                    connector_id=env.connector_id,
                    role="reaction",
                    stream=stream,
                    imported_until=dt.datetime(2023, 6, 7, *moment, tzinfo=TOKYO),
                )
            )
    html = env.client.get(f"/connectors/{env.connector_id}/run").get_data(as_text=True)
    block = re.search(r'id="process-reaction-options".*?</fieldset>', html, re.S).group(0)
    text = text_of(block)
    assert "メール開封: 2023年06月07日 20:21:04 まで連携済" in text
    assert "URLクリック: 2023年06月07日 20:21:06 まで連携済" in text
    assert "Web来訪: 未連携" in text
    assert "差分" in text and "全件" in text and "処理対象の日付を指定してください" in text
    assert "※最大で7日間まで連携可能" in text and "連携対象を指定してください" in text
    # 連携対象 defaults to the configured types.
    assert re.findall(r'name="types" value="([a-z]+)"[^>]*checked', block) == [
        "open",
        "click",
        "visit",
        "cv",
        "download",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (("2023-06-01", "0", "0"), ("2023-06-08", "23", "59")),
        (("2023-06-01", "23", "0"), ("2023-06-08", "22", "59")),
    ],
)
def test_full_over_seven_calendar_days_is_refused_on_the_run_page(reaction, start, end):
    env = reaction.env
    form = {
        "mode": "full",
        "start_date": start[0],
        "start_hour": start[1],
        "start_minute": start[2],
        "end_date": end[0],
        "end_hour": end[1],
        "end_minute": end[2],
        "types": ["open"],
    }
    response = env.client.post(
        f"/connectors/{env.connector_id}/run/reaction", data=form, headers=HX
    )
    assert response.status_code == 422
    assert "日時(開始、終了)の期間は7日以内にて指定してください。" in text_of(
        response.get_data(as_text=True)
    )
    assert _runs(env.app) == []


def test_run_keeps_only_the_chosen_types_and_the_range(reaction):
    env = reaction.env
    response = env.client.post(
        f"/connectors/{env.connector_id}/run/reaction",
        data={**FULL, "types": ["click", "bogus"], "extra": "ignored"},
        headers=HX,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    (run,) = _runs(env.app)
    assert run.params == {**FULL, "types": ["click"]}
    refused = env.client.post(
        f"/connectors/{env.connector_id}/run/reaction", data={"mode": "diff"}, headers=HX
    )
    assert refused.status_code == 422
    assert "連携対象を指定してください。" in text_of(refused.get_data(as_text=True))
    assert field_error(refused.get_data(as_text=True), "types") is None  # shown beside the button


def test_runs_start_from_the_command_line_checks_the_options_like_the_page(reaction):
    env = reaction.env
    runner = env.app.test_cli_runner()
    too_long = [
        "runs",
        "start",
        env.connector_id,
        "reaction",
        *("--param", "mode=full", "--param", "start_date=2023-06-01", "--param", "start_hour=23"),
        *("--param", "start_minute=0", "--param", "end_date=2023-06-08"),
        *("--param", "end_hour=22", "--param", "end_minute=59", "--param", "types=open"),
    ]
    result = runner.invoke(args=too_long)
    assert result.exit_code != 0
    assert "日時(開始、終了)の期間は7日以内にて指定してください。" in result.output
    assert _runs(env.app) == []
    result = runner.invoke(
        args=[
            "runs",
            "start",
            env.connector_id,
            "reaction",
            "--param",
            "types=open",
            "--param",
            "types=cv",
        ]
    )
    assert result.exit_code == 0, result.output
    (run,) = _runs(env.app)
    assert run.params == {"mode": "diff", "types": ["open", "cv"]}
