"""Planning of the 顧客閲覧URL連携 writes and its user-facing kintone messages (no I/O)."""

from __future__ import annotations

import datetime as dt

from portal.connector_types.haihai_kintone.view_url.sync import planned_update
from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneNetworkError,
    KintonePermissionError,
    KintoneValidationError,
)
from portal.integrations.ledger import BudgetExceeded
from portal.messages.kintone import kintone_message, view_url_step

URLS = {
    "taro@example.jp": "https://a.hm-f.jp/m1/view/1-abc",
    "Hanako@example.jp": "https://a.hm-f.jp/m1/view/2-def",
}


def record(record_id: int, mail, url=""):
    return {
        "$id": {"type": "__ID__", "value": str(record_id)},
        "mail": {"value": mail},
        "url": {"value": url},
    }


def test_matching_record_gets_an_update_of_the_target_field_only():
    assert planned_update(record(7, "taro@EXAMPLE.jp"), "mail", "url", URLS) == {
        "id": 7,
        "record": {"url": {"value": "https://a.hm-f.jp/m1/view/1-abc"}},
    }


def test_record_already_holding_the_url_needs_no_write():
    assert (
        planned_update(record(1, "taro@example.jp", URLS["taro@example.jp"]), "mail", "url", URLS)
        is None
    )


def test_a_different_stale_url_is_replaced():
    update = planned_update(record(2, "Hanako@example.jp", "https://old"), "mail", "url", URLS)
    assert update["record"]["url"]["value"] == URLS["Hanako@example.jp"]


def test_unknown_blank_or_differently_cased_local_parts_are_left_alone():
    assert planned_update(record(3, "nobody@example.jp"), "mail", "url", URLS) is None
    assert planned_update(record(4, ""), "mail", "url", URLS) is None
    assert planned_update(record(5, None), "mail", "url", URLS) is None
    assert planned_update(record(6, "hanako@example.jp"), "mail", "url", URLS) is None
    assert planned_update({"$id": {"value": "8"}}, "mail", "url", URLS) is None


def kintone_failure(error, app_id):
    return kintone_message(error, view_url_step(app_id))


def test_kintone_failures_name_what_to_fix():
    assert "Step3" in kintone_failure(KintoneAuthError("GAIA_IA02", "bad token"), "12")
    assert "「レコード閲覧」と「レコード編集」" in kintone_failure(
        KintonePermissionError("GAIA_NO01", "no"), "12"
    )
    invalid = KintoneValidationError(
        "CB_VA01",
        "入力内容が正しくありません。",
        {"records[3].url.value": {"messages": ["URLの形式が正しくありません。"]}},
    )
    message = kintone_failure(invalid, "12")
    assert "顧客閲覧URLを書き込めませんでした" in message and "「url」" in message
    assert "サブドメイン" in kintone_failure(KintoneNetworkError("NETWORK", "refused"), "12")
    budget = BudgetExceeded("kintone:x:12", 10000, 10000, dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert "アプリID: 12" in kintone_failure(budget, "12")
