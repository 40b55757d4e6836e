"""Import options rules and the Japanese messages of the 配配メール errors (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.integrations.haihai import (
    JST,
    HaihaiAuthError,
    HaihaiError,
    HaihaiImportUncertainError,
    HaihaiIpRefusedError,
    HaihaiLimitError,
    HaihaiNotFoundError,
    HaihaiPlanError,
    HaihaiUnavailableError,
    HaihaiValidationError,
    ImportMode,
    ImportOptions,
    Op,
    StatusChange,
    next_jst_midnight,
)
from portal.messages.haihai import format_jst, haihai_message


def test_register_defaults_are_valid():
    options = ImportOptions()
    assert options.mode is ImportMode.REGISTER
    assert not options.overwrite and options.status_change is None


@pytest.mark.parametrize("mode", [ImportMode.STOP, ImportMode.BAN, ImportMode.ENABLE])
def test_state_changes_need_a_group_or_plan(mode):
    with pytest.raises(ValueError, match="group_id or plan_id"):
        ImportOptions(mode=mode)
    assert ImportOptions(mode=mode, group_id="3").group_id == "3"
    assert ImportOptions(mode=mode, plan_id="7").plan_id == "7"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"group_id": "1", "plan_id": "2"},
        {"mode": ImportMode.DELETE, "overwrite": True},
        {"mode": ImportMode.STOP, "group_id": "1", "overwrite": True},
        {"blank_overwrite": True},
        {"mode": ImportMode.DELETE, "status_change": StatusChange.NOT_IN_FILE_TO_STOP},
        {"status_change": StatusChange.IN_FILE_TO_OK},
        {"status_change": StatusChange.BOTH},
    ],
)
def test_combinations_the_spec_rules_out_are_refused(kwargs):
    with pytest.raises(ValueError):
        ImportOptions(**kwargs)


def test_allowed_combinations():
    ImportOptions(overwrite=True, blank_overwrite=True, group_id="1")
    ImportOptions(mode=ImportMode.ENABLE, plan_id="1", overwrite=True, blank_overwrite=True)
    ImportOptions(status_change=StatusChange.NOT_IN_FILE_TO_STOP)
    ImportOptions(status_change=StatusChange.BOTH, group_id="1")


def test_next_jst_midnight_and_formatting():
    late_evening_utc = dt.datetime(2025, 3, 31, 14, 59, tzinfo=dt.UTC)  # 23:59 JST
    assert next_jst_midnight(late_evening_utc) == dt.datetime(2025, 4, 1, tzinfo=JST)
    just_after = dt.datetime(2025, 3, 31, 15, 0, tzinfo=dt.UTC)  # 00:00 JST on 4/1
    assert next_jst_midnight(just_after) == dt.datetime(2025, 4, 2, tzinfo=JST)
    assert format_jst(dt.datetime(2025, 3, 31, 15, 0, tzinfo=dt.UTC)) == "2025年04月01日 00:00"


def test_limit_message_says_which_api_and_when_it_resets_in_jst():
    error = HaihaiLimitError(
        "too many calls",
        resets_at=dt.datetime(2025, 1, 1, 15, 0, tzinfo=dt.UTC),
        limit=240,
    )
    error.operation, error.import_mode = Op.IMPORT, ImportMode.REGISTER
    assert error.code == 81404
    assert haihai_message(error) == (
        "配配メールAPI（CSV一括登録）の1日あたりの実行回数の上限（240回）に達したため、処理を中止しました。"
        "実行回数は2025年01月02日 00:00（日本時間）にリセットされます。リセット後に再度実行してください。"
    )


def test_every_error_has_a_specific_japanese_message():
    errors = [
        HaihaiAuthError("unauthorized", code=81401),
        HaihaiIpRefusedError("ip denied", code=81403),
        HaihaiPlanError("plan not allowed", code=81402),
        HaihaiValidationError("gid がありません", code=81400),
        HaihaiNotFoundError("gid 9", code=81410),
        HaihaiUnavailableError("connection refused"),
        HaihaiUnavailableError("boom", http_status=503),
        HaihaiImportUncertainError("read timeout"),
        HaihaiError("odd", code=89999),
    ]
    messages = [haihai_message(error) for error in errors]
    assert len(set(messages)) == len(messages)
    assert all(isinstance(error, HaihaiError) for error in errors)
    assert "ログインIDとAPIトークン" in messages[0]
    assert "API IPアドレス制限" in messages[1]
    assert "gid がありません" in messages[3] and "81400" in messages[3]
    assert "配配メール設定の同期" in messages[4]
    assert "接続できませんでした" in messages[5]
    assert "HTTP 503" in messages[6]
    assert "一括登録・削除の処理結果" in messages[7] and "再送していません" in messages[7]
    assert "89999" in messages[8]


def test_plan_error_names_feature_and_plan_when_known():
    error = HaihaiPlanError("plan not allowed", code=81402)
    error.operation = Op.VISIT_LOG
    assert haihai_message(error).startswith("Web来訪の取得は、ご契約中の配配メールのプランでは")
    assert "Bridgeプランが必要です" in haihai_message(error)
