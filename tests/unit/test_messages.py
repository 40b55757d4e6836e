"""The message layer: one wording per failure wherever it happens, distinct wordings for
distinct failures, the manual's sentences verbatim, and no Japanese wording in the clients."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest

from portal.integrations.haihai import (
    HaihaiConnectionError,
    HaihaiImportUncertainError,
    HaihaiServerError,
    HaihaiTimeoutError,
)
from portal.integrations.haihai_csv import CsvEncodeError, CsvEncoding, CsvRowTooLargeError
from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneConnectionLostError,
    KintoneError,
    KintoneFilterAbortedError,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneTimeoutError,
    KintoneValidationError,
)
from portal.integrations.ledger import BudgetExceeded
from portal.messages.haihai import csv_message, csv_row_refusal, haihai_message
from portal.messages.kintone import (
    TOO_MUCH_DATA,
    conditions_step,
    customer_sync_step,
    kintone_error_code,
    kintone_message,
    settings_step,
    view_url_step,
)

STEPS = [settings_step("7"), conditions_step("7"), customer_sync_step("7"), view_url_step("7")]


def timed_out(phase: str = "read", attempts: int = 2) -> KintoneTimeoutError:
    error = KintoneTimeoutError("TIMEOUT", "slow", timeout=30.0, phase=phase)  # type: ignore[arg-type]
    error.attempts = attempts
    return error


KINTONE_ERRORS: list[KintoneError] = [
    KintoneAuthError("GAIA_IA02", "bad token", status=401),
    KintonePermissionError("GAIA_NO01", "no", status=403),
    KintoneNotFoundError("GAIA_AP01", "no app", status=404),
    KintoneNotFoundError("GAIA_RE01", "no record 12", status=404),
    KintoneThrottledError("GAIA_TO04", "busy", status=429),
    KintoneFilterAbortedError("FILTER_ABORTED", "aborted", status=200),
    KintoneNetworkError("NETWORK", "refused"),
    KintoneConnectionLostError("NETWORK", "reset", maybe_applied=True),
    timed_out("read"),
    timed_out("connect"),
    KintoneServerError("HTTP_500", "oops", status=500),
    KintoneServerError("GAIA_MA01", "maintenance", status=503),
    KintoneServerError("INVALID_RESPONSE", "html", status=200),
    KintoneError("GAIA_XX99", "odd", status=400),
]


STEP_INDEPENDENT = [e for e in KINTONE_ERRORS if not isinstance(e, KintonePermissionError)]


@pytest.mark.parametrize("error", STEP_INDEPENDENT, ids=lambda e: f"{type(e).__name__}-{e.code}")
def test_a_kintone_failure_reads_the_same_on_every_screen_and_run(error):
    # Only the permissions named and a refused request depend on the step (tested below).
    messages = {kintone_message(error, step) for step in STEPS}
    assert len(messages) == 1, messages


def test_distinct_kintone_failures_have_distinct_messages():
    messages = [kintone_message(error, customer_sync_step("7")) for error in KINTONE_ERRORS]
    assert len(set(messages)) == len(messages)


def test_permission_message_names_what_the_step_needs():
    error = KintonePermissionError("GAIA_NO01", "no", status=403)
    assert "「レコード閲覧」のアクセス権" in kintone_message(error, customer_sync_step("7"))
    both = "「レコード閲覧」と「レコード編集」"
    assert both in kintone_message(error, view_url_step("7"))
    assert both in kintone_message(error, settings_step("7"))
    assert "アプリID: 7" in kintone_message(error, settings_step("7"))


def test_a_refused_request_is_worded_by_what_was_sent():
    query = KintoneValidationError("GAIA_IQ03", "bad query", status=400)
    assert "連携条件による絞り込みを受け付けませんでした" in kintone_message(
        query, conditions_step(1)
    )
    assert kintone_error_code(query, customer_sync_step(1)) == "kintone_query"
    write = KintoneValidationError(
        "CB_VA01", "invalid", {"records[0].url.value": {"messages": ["bad URL"]}}, status=400
    )
    assert "「url」に顧客閲覧URLを書き込めませんでした" in kintone_message(write, view_url_step(1))
    assert kintone_error_code(write, view_url_step(1)) == "kintone_write"
    missing = KintoneValidationError("GAIA_IQ11", "no field x", status=400)
    for step in STEPS:
        assert kintone_message(missing, step).startswith("連携条件または連携項目に指定した")
        assert kintone_error_code(missing, step) == "kintone_field"


def test_timeouts_say_how_long_and_how_often_not_that_the_subdomain_is_wrong():
    message = kintone_message(timed_out(attempts=2), customer_sync_step(1))
    assert message.startswith(
        "kintoneが30秒以内に応答しなかったため、処理を中止しました（2回試行）。"
    )
    assert "サブドメイン" not in message
    assert "サブドメイン" in kintone_message(timed_out("connect"), customer_sync_step(1))


def test_the_manuals_sentence_for_a_cut_short_keyword_search_is_kept_verbatim():
    manual = "kintone から取得するデータの量が多すぎるため、処理が中断されました。連携条件を見直してください。"
    assert TOO_MUCH_DATA.startswith(manual)
    error = KintoneFilterAbortedError("FILTER_ABORTED", "aborted", status=200)
    assert kintone_message(error, customer_sync_step(1)) == TOO_MUCH_DATA


def test_the_daily_budget_names_the_app():
    budget = BudgetExceeded("kintone:x:12", 10000, 10000, dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert "アプリID: 12" in kintone_message(budget, view_url_step("12"))
    assert kintone_error_code(budget, view_url_step("12")) == "kintone_limit"


def test_haihai_outages_are_worded_by_what_happened():
    lost = HaihaiConnectionError("reset", maybe_delivered=True)
    refused = HaihaiConnectionError("refused", maybe_delivered=False)
    slow = HaihaiTimeoutError("slow", timeout=30.0)
    slow.attempts = 2
    broken = HaihaiServerError("oops", http_status=500, code=81500)
    messages = [haihai_message(e) for e in (lost, refused, slow, broken)]
    assert len(set(messages)) == 4
    assert "途中で切断" in messages[0]
    assert "配配メールURLが正しいか確認" in messages[1]
    assert "30秒以内に応答しなかった" in messages[2] and "2回試行" in messages[2]
    assert "HTTP 500" in messages[3]


def test_an_uncertain_upload_says_why_it_is_uncertain():
    def uncertain(cause):
        return haihai_message(HaihaiImportUncertainError("may be queued", cause=cause))

    server = uncertain(HaihaiServerError("oops", http_status=500))
    timeout = uncertain(HaihaiTimeoutError("slow", timeout=300.0))
    lost = uncertain(HaihaiConnectionError("reset"))
    assert "エラー（HTTP 500）を返したため" in server and "途絶えた" not in server
    assert "300秒以内に応答がなかったため" in timeout and "途絶えた" not in timeout
    assert lost.startswith("配配メールへのCSV送信中に応答が途絶えたため")
    for message in (server, timeout, lost):
        assert "自動では再送していません" in message


def test_csv_refusals_read_the_same_in_a_message_and_in_a_row_line():
    encode = CsvEncodeError(2, "お名前", 2, "𠮷", CsvEncoding.SHIFT_JIS)
    assert csv_message(encode).startswith(
        "2件目のデータの「お名前」に、Shift_JISで送信できない文字"
    )
    assert csv_row_refusal(encode).startswith("「お名前」にShift_JISで送信できない文字「𠮷」")
    header = CsvEncodeError(0, "𠮷", 2, "𠮷", CsvEncoding.SHIFT_JIS)
    assert csv_message(header).startswith("項目名「𠮷」に")
    too_large = CsvRowTooLargeError(3, 2000, 1000)
    assert csv_message(too_large).startswith("3件目のデータが大きすぎるため")
    assert csv_row_refusal(too_large) == "データが大きすぎるため連携しませんでした"


def test_the_clients_carry_no_japanese_wording():
    # Vendor vocabulary (enum labels, state aliases) and docstrings/comments are allowed; a
    # Japanese sentence in a string literal of the clients is not.
    root = pathlib.Path(__file__).resolve().parents[2] / "portal" / "integrations"
    sentence = re.compile(r"[ぁ-んァ-ヶ一-龠][^\"']*[。、]")
    offenders = []
    for path in root.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if sentence.search(code) and not code.strip().startswith(('"""', "'''")):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
