"""Window arithmetic of the 差分 / 全件 imports (manual 付録4.1, 5.1, §2.3.5–2.3.8)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.connector_types.haihai_kintone.event_import.detail import (
    EXCLUDED_NOTICE,
    StreamReport,
    imported_range,
    message_detail,
)
from portal.connector_types.haihai_kintone.event_import.window import (
    RANGE_INCOMPLETE,
    RANGE_REVERSED,
    RANGE_TOO_LONG,
    FullRange,
    RangeInvalid,
    advanced_watermark,
    diff_window,
    format_detail_time,
    format_jp_time,
    lookback_floor,
)

TOKYO = ZoneInfo("Asia/Tokyo")
HOUR = dt.timedelta(hours=1)


def tokyo(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


def test_first_diff_run_reads_from_midnight_of_its_own_day():
    window = diff_window(tokyo(2024, 3, 26, 8, 50, 35, 400_000), None, "Asia/Tokyo", HOUR)
    assert window.first_run
    assert window.start == window.read_from == tokyo(2024, 3, 26)
    assert window.end == tokyo(2024, 3, 26, 8, 50, 35)  # whole seconds, exclusive
    assert window.excluded is None


def test_diff_run_starts_one_second_after_the_watermark_and_rereads_the_overlap():
    window = diff_window(tokyo(2023, 6, 8, 11, 6), tokyo(2023, 6, 7, 20, 21, 4), "Asia/Tokyo", HOUR)
    assert window.start == tokyo(2023, 6, 7, 20, 21, 5)
    assert window.read_from == tokyo(2023, 6, 7, 19, 21, 5)
    assert window.end == tokyo(2023, 6, 8, 11, 6)
    assert window.excluded is None and not window.first_run


def test_manual_reaction_example_excludes_what_lies_before_seven_days():
    # §2.3.7: run on 2023-05-26 01:32, last imported 2023-05-18 21:15:08.
    window = diff_window(
        tokyo(2023, 5, 26, 1, 32, 14), tokyo(2023, 5, 18, 21, 15, 8), "Asia/Tokyo", HOUR
    )
    assert window.start == window.read_from == tokyo(2023, 5, 19)
    assert window.excluded == (tokyo(2023, 5, 18, 21, 15, 9), tokyo(2023, 5, 18, 23, 59, 59))


def test_manual_bridge_example_excludes_the_first_weeks_of_march():
    # §2.3.8: run on 2024-03-25, form imported up to 2024-03-01 00:00:00.
    window = diff_window(tokyo(2024, 3, 25, 16, 39, 26), tokyo(2024, 3, 1), "Asia/Tokyo", HOUR)
    assert window.start == tokyo(2024, 3, 18)
    assert window.excluded == (tokyo(2024, 3, 1, 0, 0, 1), tokyo(2024, 3, 17, 23, 59, 59))


def test_overlap_never_reaches_before_the_seven_day_floor():
    now = tokyo(2024, 3, 25, 10)
    watermark = tokyo(2024, 3, 18, 0, 10)
    window = diff_window(now, watermark, "Asia/Tokyo", HOUR)
    assert window.start == tokyo(2024, 3, 18, 0, 10, 1)
    assert window.read_from == tokyo(2024, 3, 18) == lookback_floor(now, "Asia/Tokyo")
    assert window.excluded is None


def test_watermark_at_the_floor_boundary_is_not_excluded():
    now = tokyo(2024, 3, 25, 10)
    window = diff_window(now, tokyo(2024, 3, 17, 23, 59, 59), "Asia/Tokyo", HOUR)
    assert window.excluded is None
    assert window.start == tokyo(2024, 3, 18)


def test_days_are_counted_in_the_account_time_zone():
    now = dt.datetime(2024, 3, 25, 16, 0, tzinfo=dt.UTC)  # 2024-03-26 01:00 in Tokyo
    tokyo_window = diff_window(now, None, "Asia/Tokyo", HOUR)
    utc_window = diff_window(now, None, "UTC", HOUR)
    assert tokyo_window.start == tokyo(2024, 3, 26)
    assert utc_window.start == dt.datetime(2024, 3, 25, tzinfo=dt.UTC)
    assert lookback_floor(now, "Asia/Tokyo") == tokyo(2024, 3, 19)
    assert lookback_floor(now, "UTC") == dt.datetime(2024, 3, 18, tzinfo=dt.UTC)


def test_floor_is_local_midnight_across_a_daylight_saving_change():
    new_york = ZoneInfo("America/New_York")
    now = dt.datetime(2024, 3, 12, 9, 30, tzinfo=new_york)  # DST began on 2024-03-10
    floor = lookback_floor(now, new_york)
    assert floor == dt.datetime(2024, 3, 5, tzinfo=new_york)
    assert floor.utcoffset() == dt.timedelta(hours=-5)


def test_a_watermark_after_the_run_time_reads_only_the_overlap():
    now = tokyo(2024, 3, 25, 10)
    window = diff_window(now, tokyo(2024, 3, 25, 11), "Asia/Tokyo", HOUR)
    assert window.start == window.end == now
    assert window.read_from == now - HOUR


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        diff_window(dt.datetime(2024, 3, 25), None, "Asia/Tokyo", HOUR)


@given(
    now=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    lag=st.integers(min_value=0, max_value=30 * 86400),
    overlap=st.integers(min_value=0, max_value=86400),
    zone=st.sampled_from(["Asia/Tokyo", "UTC", "America/New_York", "Europe/Berlin"]),
)
def test_window_invariants(now, lag, overlap, zone):
    aware_now = now.replace(tzinfo=ZoneInfo(zone))
    watermark = aware_now - dt.timedelta(seconds=lag)
    window = diff_window(aware_now, watermark, zone, dt.timedelta(seconds=overlap))
    floor = lookback_floor(aware_now, zone)
    assert floor <= window.read_from <= window.start <= window.end
    if window.excluded is None:
        assert window.start == min(whole(watermark) + dt.timedelta(seconds=1), window.end)
    else:
        first, last = window.excluded
        assert first == whole(watermark) + dt.timedelta(seconds=1)
        assert last + dt.timedelta(seconds=1) == window.start == floor


def whole(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


# --- 全件 -----------------------------------------------------------------------------------


def full(start: str, start_time: str, end: str, end_time: str) -> FullRange:
    sh, sm = start_time.split(":")
    eh, em = end_time.split(":")
    return FullRange.parse(start, sh, sm, end, eh, em)


@pytest.mark.parametrize(
    ("start_time", "end_time"),
    [("00:00", "23:59"), ("23:00", "22:59")],  # both examples of §2.3.5
)
def test_manual_examples_over_seven_calendar_days_are_refused(start_time, end_time):
    with pytest.raises(RangeInvalid) as refused:
        full("2023-06-01", start_time, "2023-06-08", end_time)
    assert (
        refused.value.message
        == RANGE_TOO_LONG
        == "日時(開始、終了)の期間は7日以内にて指定してください。"
    )


def test_seven_calendar_days_from_second_00_to_second_59_are_accepted():
    window = full("2023-06-01", "00:00", "2023-06-07", "23:59").window("Asia/Tokyo")
    assert window.start == window.read_from == tokyo(2023, 6, 1)
    assert window.end == tokyo(2023, 6, 8)  # exclusive: 23:59:59 is still inside
    assert window.excluded is None


def test_full_range_of_a_single_minute_covers_sixty_seconds():
    window = full("2023-06-01", "10:15", "2023-06-01", "10:15").window("Asia/Tokyo")
    assert window.end - window.start == dt.timedelta(seconds=60)


def test_reversed_and_incomplete_ranges_are_refused():
    with pytest.raises(RangeInvalid) as reversed_range:
        full("2023-06-02", "00:00", "2023-06-01", "23:59")
    assert reversed_range.value.message == RANGE_REVERSED
    with pytest.raises(RangeInvalid) as incomplete:
        FullRange.parse("2023-06-01", "0", "0", "", "23", "59")
    assert incomplete.value.message == RANGE_INCOMPLETE
    with pytest.raises(RangeInvalid):
        FullRange.parse("2023-06-01", "24", "0", "2023-06-01", "23", "59")
    with pytest.raises(RangeInvalid):
        FullRange.parse("2023-06-01", "0", "60", "2023-06-01", "23", "59")


def test_full_range_round_trips_through_run_params():
    entered = full("2023-06-01", "09:05", "2023-06-03", "18:30")
    params = entered.to_params()
    assert FullRange.parse(*(params[k] for k in PARAM_ORDER)) == entered


PARAM_ORDER = ("start_date", "start_hour", "start_minute", "end_date", "end_hour", "end_minute")


# --- watermark ------------------------------------------------------------------------------


def test_watermark_moves_to_the_newest_event_in_kintone():
    times = [tokyo(2024, 3, 1, 10), tokyo(2024, 3, 1, 12), tokyo(2024, 3, 1, 11)]
    assert advanced_watermark(tokyo(2024, 3, 1, 9), times, []) == tokyo(2024, 3, 1, 12)


def test_watermark_stops_before_the_first_event_not_written():
    written = [tokyo(2024, 3, 1, 10), tokyo(2024, 3, 1, 12), tokyo(2024, 3, 1, 13)]
    result = advanced_watermark(None, written, [tokyo(2024, 3, 1, 12), tokyo(2024, 3, 1, 14)])
    assert result == tokyo(2024, 3, 1, 10)


def test_watermark_never_moves_backwards_or_without_data():
    previous = tokyo(2024, 3, 1, 15)
    assert advanced_watermark(previous, [tokyo(2024, 3, 1, 10)], []) == previous
    assert advanced_watermark(previous, [], []) == previous
    assert advanced_watermark(None, [], [tokyo(2024, 3, 1, 10)]) is None


# --- メッセージ詳細 -------------------------------------------------------------------------------


def test_message_detail_reads_like_the_manual_example():
    reports = [
        StreamReport(
            "メール開封",
            imported=(tokyo(2023, 5, 19), tokyo(2023, 5, 25, 21, 15, 7)),
            excluded=(tokyo(2023, 5, 18, 21, 15, 9), tokyo(2023, 5, 18, 23, 59, 59)),
        ),
        StreamReport("URLクリック", imported=(tokyo(2023, 5, 19), tokyo(2023, 5, 25, 21, 15, 8))),
        StreamReport("Web来訪"),
    ]
    assert message_detail(reports, "Asia/Tokyo") == (
        "メール開封\n"
        "連携されたデータ: 2023-05-19 00:00:00 ~ 2023-05-25 21:15:07\n"
        "\n"
        "以下の期間のデータはkintoneに連携されませんでした。\n"
        "手動実行画面より「全件」を指定し、必要な期間のデータの連携処理を行ってください。\n"
        "(期間の指定は、最大7日間となります)\n"
        "連携除外期間: 2023-05-18 21:15:09 ~ 2023-05-18 23:59:59\n"
        "\n"
        "URLクリック\n"
        "連携されたデータ: 2023-05-19 00:00:00 ~ 2023-05-25 21:15:08"
    )
    assert EXCLUDED_NOTICE.startswith("以下の期間のデータはkintoneに連携されませんでした。")


def test_message_detail_is_none_when_nothing_was_imported_or_skipped():
    assert message_detail([StreamReport("メール開封")], "Asia/Tokyo") is None


def test_imported_range_includes_late_events_older_than_the_window():
    start = tokyo(2024, 3, 26)
    late = tokyo(2024, 3, 25, 23, 30)
    assert imported_range(start, late, tokyo(2024, 3, 26, 8)) == (late, tokyo(2024, 3, 26, 8))
    assert imported_range(start, None, None) is None


def test_time_formats_follow_the_manual():
    moment = dt.datetime(2023, 6, 7, 11, 21, 4, tzinfo=dt.UTC)
    assert format_jp_time(moment, "Asia/Tokyo") == "2023年06月07日 20:21:04"
    assert format_detail_time(moment, "Asia/Tokyo") == "2023-06-07 20:21:04"
