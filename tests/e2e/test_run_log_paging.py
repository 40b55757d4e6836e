"""In Chromium: the 連携ログ pager walks a long log by key (「1-5 of 10+」 until the rest fits
under the count limit), アカウント設定 shows how long runs are kept, and the purge command
removes exactly the runs past that age."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.models import new_ulid

pytestmark = pytest.mark.e2e

RECENT = 23
EXPIRED_AGES_DAYS = (45, 40)


@pytest.fixture
def live_portal_env() -> dict[str, str]:
    """A small count limit and a 30-day retention, so both show with a handful of runs."""
    return {"RUN_LOG_COUNT_LIMIT": "10", "RUN_RETENTION_DAYS": "30"}


def _seed_runs(database_url: str, owner: str) -> tuple[list[str], dt.datetime]:
    """A connector with RECENT runs a minute apart (ids newest first) and two expired runs."""
    engine = sa.create_engine(database_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with engine.begin() as connection:
        account_id = connection.execute(
            sa.text("SELECT id FROM accounts WHERE connector_id = :c"), {"c": owner}
        ).scalar_one()
        connector_id = new_ulid()
        connection.execute(
            sa.text(
                "INSERT INTO connectors (id, account_id, kind, name, created_at, updated_at)"
                " VALUES (:id, :a, 'haihai_kintone', 'ページ送り確認', :t, :t)"
            ),
            {"id": connector_id, "a": account_id, "t": now.replace(tzinfo=None)},
        )
        ages = [dt.timedelta(days=d) for d in EXPIRED_AGES_DAYS]
        ages += [dt.timedelta(minutes=RECENT - n) for n in range(RECENT)]
        ids = []
        for age in ages:
            run_id = new_ulid()
            created = (now - age).replace(tzinfo=None)
            connection.execute(
                sa.text(
                    "INSERT INTO runs (id, connector_id, account_id, process_key, trigger,"
                    " status, processed, total, progress, params, created_at, started_at,"
                    " finished_at) VALUES (:id, :c, :a, 'view_url', 'manual', 'succeeded',"
                    " 3, 3, 1.0, '{}', :t, :t, :t)"
                ),
                {"id": run_id, "c": connector_id, "a": account_id, "t": created},
            )
            ids.append(run_id)
    engine.dispose()
    return list(reversed(ids)), now - ages[0]


def _shown(page) -> list[str]:
    return page.locator("#run-log-table tr.run-row").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"
    )


def _choose_per_page(page, value: str) -> None:
    """Pick 「1ページ当たりの件数」 once htmx has wired the select of the page just swapped in
    (a script acting within the same few milliseconds as the swap would otherwise be ignored)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('#run-log-per-page');"
        " return s && s['htmx-internal-data'] !== undefined"
        " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'); }"
    )
    page.locator("#run-log-per-page").select_option(value)


def test_the_pager_walks_a_long_log_and_the_account_shows_what_is_kept(signed_in_page):
    portal, page = signed_in_page.portal, signed_in_page.page
    ids, oldest = _seed_runs(portal.database_url, signed_in_page.connector_id)
    page.goto(f"{portal.url}/")
    pager = page.locator("#run-log-range")
    expect(pager).to_have_text("1-5 of 10+")
    assert _shown(page) == ids[:5]
    expect(page.get_by_role("button", name="前のページ")).to_be_disabled()

    expected = ["6-10 of 15+", "11-15 of 20+", "16-20 of 25", "21-25 of 25"]
    for number, text in enumerate(expected, start=1):
        page.get_by_role("button", name="次のページ").click()
        expect(pager).to_have_text(text)
        assert _shown(page) == ids[number * 5 : number * 5 + 5]
    expect(page.get_by_role("button", name="次のページ")).to_be_disabled()

    page.get_by_role("button", name="前のページ").click()
    expect(pager).to_have_text("16-20 of 25")
    assert _shown(page) == ids[15:20]
    _choose_per_page(page, "50")
    expect(pager).to_have_text("1-25 of 25")

    # アカウント設定 from the account menu: 30 days, and the oldest run still kept.
    page.locator("#account-menu").click()
    page.get_by_role("link", name="アカウント設定").click()
    page.wait_for_url(f"{portal.url}/account")
    expect(page.locator("#retention-days")).to_have_text("30日")
    expect(page.locator("#retention-rule")).to_contain_text("実行から30日を過ぎた連携ログは")
    local_oldest = oldest.astimezone(dt.timezone(dt.timedelta(hours=9)))
    expect(page.locator("#retention-oldest")).to_have_text(
        "保存されている最も古い連携ログ: " + local_oldest.strftime("%Y年%m月%d日 %H:%M:%S")
    )

    # The purge (what the hourly job runs) removes the two runs older than 30 days only.
    assert re.search(r"deleted 2 runs", portal.cli("jobs", "purge-runs"))
    page.reload()
    expect(page.locator("#retention-oldest")).not_to_contain_text(
        local_oldest.strftime("%Y年%m月%d日")
    )
    page.goto(f"{portal.url}/")
    expect(pager).to_have_text("1-5 of 10+")  # the log has loaded (it loads after the page)
    _choose_per_page(page, "50")
    expect(pager).to_have_text("1-23 of 23")
    assert _shown(page) == ids[:23]
