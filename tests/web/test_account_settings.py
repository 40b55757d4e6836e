"""アカウント設定: the account's identity and what its 連携ログ keeps (age, cut-off, oldest run)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.db import session_scope
from portal.models import Connector, Run
from tests.support.accounts import create_account, sign_in

TOKYO_OFFSET = dt.timedelta(hours=9)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _add_run(app, account_id: int, created_at: dt.datetime) -> None:
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account_id, name="連携")
        session.add(connector)
        session.flush()
        session.add(Run(connector_id=connector.id, process_key="view_url", created_at=created_at))


def test_settings_show_the_account_and_the_default_400_days(app, client):
    account = create_account(app, "HC0001", email="owner@example.jp")
    sign_in(client, account)
    oldest = dt.datetime(2025, 3, 4, 1, 2, 3, tzinfo=dt.UTC)
    _add_run(app, account.id, oldest)
    _add_run(app, account.id, oldest + dt.timedelta(days=30))
    stranger = create_account(app, "HC0099")
    _add_run(app, stranger.id, oldest - dt.timedelta(days=1))  # not this account's

    text = text_of(client.get("/account").get_data(as_text=True))
    assert "アカウント設定" in text
    assert "配配メールコネクタ ID HC0001" in text and "owner@example.jp" in text
    assert "Asia/Tokyo" in text
    assert "連携ログの保存期間 400日" in text
    assert (
        "実行から400日を過ぎた連携ログは、エラー詳細・メッセージ詳細とともに自動的に削除されます。"
        in text
    )
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=400) + TOKYO_OFFSET).strftime(
        "%Y年%m月%d日"
    )
    assert f"現在の保存対象: {cutoff}" in text
    assert "保存されている最も古い連携ログ: 2025年03月04日 10:02:03" in text


def test_a_configured_age_is_shown_and_an_empty_log_says_so(app, client):
    app.config["RUN_RETENTION_DAYS"] = 30  # as RUN_RETENTION_DAYS=30 in the environment
    account = create_account(app, "HC0001")
    sign_in(client, account)
    text = text_of(client.get("/account").get_data(as_text=True))
    assert "連携ログの保存期間 30日" in text and "実行から30日を過ぎた" in text
    assert "連携ログはまだありません。" in text


def test_the_account_menu_links_to_the_settings_and_login_is_required(app, client):
    assert client.get("/account").status_code == 302
    account = create_account(app, "HC0001")
    sign_in(client, account)
    assert 'href="/account"' in client.get("/").get_data(as_text=True)


def test_retention_and_count_limit_must_be_positive_whole_numbers(monkeypatch, tmp_path):
    from portal.config import load_config

    monkeypatch.setenv("RUN_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="RUN_RETENTION_DAYS must be at least 1"):
        load_config(str(tmp_path))
    monkeypatch.setenv("RUN_RETENTION_DAYS", "a year")
    with pytest.raises(ValueError, match="RUN_RETENTION_DAYS must be a whole number"):
        load_config(str(tmp_path))
    monkeypatch.setenv("RUN_RETENTION_DAYS", "30")
    monkeypatch.setenv("RUN_LOG_COUNT_LIMIT", "5000")
    config = load_config(str(tmp_path))
    assert (config["RUN_RETENTION_DAYS"], config["RUN_LOG_COUNT_LIMIT"]) == (30, 5000)
