"""Japanese texts of 配信停止/禁止顧客一覧連携 runs: what failed, what to fix, what was written."""

from __future__ import annotations

import datetime as dt

from portal.connector_types.haihai_kintone.stop_ban.messages import (
    conflict_message,
    kintone_failure,
    write_failure,
)
from portal.connector_types.haihai_kintone.stop_ban.writer import ChunkWriteFailed
from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneNetworkError,
    KintonePermissionError,
    KintoneValidationError,
)
from portal.integrations.ledger import BudgetExceeded

RESET = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)


def test_kintone_failures_name_what_to_fix_and_what_was_written():
    auth = kintone_failure(KintoneAuthError("GAIA_IA02", "bad token"), "12", 0)
    assert "Step3" in auth and auth.endswith("kintoneのレコードは更新されていません。")
    permission = kintone_failure(KintonePermissionError("GAIA_NO01", "no"), "12", 2000)
    assert "「レコード閲覧」と「レコード編集」" in permission
    assert "それまでに更新した2,000件のレコードはそのまま更新済みです。" in permission
    budget = kintone_failure(BudgetExceeded("k", 10000, 10000, RESET), "12", 0)
    assert "アプリID: 12" in budget and "翌日以降" in budget
    network = kintone_failure(KintoneNetworkError("NETWORK", "refused"), "12", 0)
    assert "サブドメイン名" in network


def test_a_refused_chunk_names_its_field_label_and_records():
    error = KintoneValidationError(
        "CB_VA01",
        "入力内容が正しくありません。",
        errors={"records[1].limited.value": {"messages": ["5以下である必要があります。"]}},
    )
    ids = list(range(101, 116))
    message = write_failure(
        ChunkWriteFailed(error, ids), {"limited": {"label": "上限付き"}}, "12", 4000
    )
    assert "kintone項目「上限付き」に値を書き込めませんでした" in message
    assert "レコードID）: 101, 102, 103, 104, 105, 106, 107, 108, 109, 110 ほか5件。" in message
    assert "それまでに更新した4,000件" in message
    budget = write_failure(ChunkWriteFailed(BudgetExceeded("k", 1, 1, RESET), [1]), {}, "12", 0)
    assert "1日あたりのAPIリクエスト数の上限" in budget


def test_records_changed_twice_are_listed():
    message = conflict_message([7, 9], 10)
    assert "レコードID: 7, 9" in message and "他の10件のレコードは更新済み" in message
