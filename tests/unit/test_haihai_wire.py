"""Pure helpers of the 配配メール wire layer: time encoding, headers, error bodies, estimates."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.integrations.haihai import JST, ImportStatus
from portal.integrations.haihai.client import _remaining_estimate
from portal.integrations.haihai.transport import csv_error, reset_header, wire_time


def test_wire_time_is_jst_wall_clock_and_rounds_exclusive_ends_up():
    moment = dt.datetime(2025, 1, 1, 3, 4, 5, 500, tzinfo=dt.UTC)
    assert wire_time(moment) == "2025-01-01 12:04:05"
    assert wire_time(moment, ceil=True) == "2025-01-01 12:04:06"
    assert wire_time(moment.replace(microsecond=0), ceil=True) == "2025-01-01 12:04:05"
    with pytest.raises(ValueError):
        wire_time(dt.datetime(2025, 1, 1))


def test_reset_header_accepts_epoch_and_jst_text():
    midnight = dt.datetime(2025, 4, 1, tzinfo=JST)
    assert reset_header(str(int(midnight.timestamp()))) == midnight
    assert reset_header("2025-04-01 00:00:00") == midnight
    assert reset_header(None) is None


@pytest.mark.parametrize(
    "body",
    [
        '"CODE","STATUS","MESSAGE"\r\n"81401","unauthorized","ログインIDまたはAPIトークンが正しくありません"\r\n',
        "CODE,STATUS,MESSAGE\r\n81401,unauthorized,ログインIDまたはAPIトークンが正しくありません\r\n",
    ],
)
def test_csv_error_body_is_recognised_in_utf8_and_shift_jis(body):
    expected = (81401, "ログインIDまたはAPIトークンが正しくありません")
    assert csv_error(body.encode("utf-8")) == expected
    assert csv_error(body.encode("cp932")) == expected
    assert csv_error(b'"email","state"\r\n') is None


def status(processed, total=1000):
    return ImportStatus("J1", "processing", None, processed=processed, total=total)


def test_remaining_estimate_from_progress_between_polls():
    assert (
        _remaining_estimate(status(400), now=20.0, previous=(10.0, 200), submitted_at=0.0) == 30.0
    )
    # First sight of progress: the rate since submission (queue time included) is a late guess.
    assert _remaining_estimate(status(500), now=10.0, previous=None, submitted_at=0.0) == 10.0
    assert _remaining_estimate(status(0), now=10.0, previous=None, submitted_at=0.0) is None
    assert _remaining_estimate(status(None), now=10.0, previous=None, submitted_at=0.0) is None
