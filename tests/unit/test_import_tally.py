"""顧客情報連携's sum of 配配メール's import results: 処理件数 and the メッセージ詳細 lines."""

from __future__ import annotations

from portal.connector_types.haihai_kintone.customer.import_tally import HAIHAI_REPORT, ImportTally
from portal.integrations.haihai import ImportMode, ImportOptions, ImportResult


def result(**counts) -> ImportResult:
    return ImportResult("J1", ImportMode.REGISTER, "completed", None, None, **counts)


def test_skipped_rows_of_a_register_without_overwrite_are_not_processed():
    tally = ImportTally.for_options(ImportOptions(mode=ImportMode.REGISTER, overwrite=False))
    first = result(
        total=3000, inserted=2000, skipped=990, failed=10, skip_reasons=(("登録済み", 990),)
    )
    assert tally.add(first) == 2000
    assert tally.add(result(total=5, updated=5)) == 5
    assert tally.lines() == [
        "配配メールの処理結果: 登録 2,000件、更新 5件、スキップ 990件、エラー 10件（送信 3,005件）",
        "スキップの理由: 登録済み（990件）",
    ]


def test_skipped_rows_of_a_state_change_already_hold_the_state_and_count():
    tally = ImportTally.for_options(ImportOptions(mode=ImportMode.STOP, group_id="1"))
    assert tally.add(result(total=4, state_changed=1, skipped=3)) == 4
    lines = tally.lines()
    assert lines[0] == (
        "配配メールの処理結果: 登録 0件、更新 0件、状態変更 1件、スキップ 3件、エラー 0件（送信 4件）"
    )
    # 配配メール gave no reason: the user is told where to look.
    assert (
        lines[1]
        == f"スキップの理由（3件）は配配メールから返されていません。{HAIHAI_REPORT}で確認できます。"
    )


def test_nothing_sent_gives_no_lines():
    assert ImportTally().lines() == []
