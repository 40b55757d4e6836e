"""Schedule maths: next occurrences, month-end, days that do not exist, time zones, overlaps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.runs.schedule_math import (
    classify_overlap,
    day_matches,
    describe_spec,
    due_slots,
    next_occurrences,
    next_occurrences_timeline,
    normalize_spec,
    occurrences_between,
    spec_from_json,
    spec_to_json,
    times_of_day,
)
from portal.syncs.config import MONTH_END, ScheduleSpec

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def tokyo(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


def daily(hours, minute=0) -> ScheduleSpec:
    return ScheduleSpec("daily", hours=tuple(hours), minutes=(minute,))


def weekly(weekdays, hour, minute=0) -> ScheduleSpec:
    return ScheduleSpec("weekly", weekdays=tuple(weekdays), hours=(hour,), minutes=(minute,))


def monthly(days, hour, minute=0) -> ScheduleSpec:
    return ScheduleSpec("monthly", month_days=tuple(days), hours=(hour,), minutes=(minute,))


# --- next occurrences ----------------------------------------------------------------------


def test_daily_schedule_with_several_hours_fires_at_each_hour_in_order():
    spec = daily([22, 10])
    got = next_occurrences(spec, "Asia/Tokyo", tokyo(2024, 3, 1, 9, 0), count=4)
    assert got == [
        tokyo(2024, 3, 1, 10, 0),
        tokyo(2024, 3, 1, 22, 0),
        tokyo(2024, 3, 2, 10, 0),
        tokyo(2024, 3, 2, 22, 0),
    ]


def test_next_occurrence_is_strictly_after_the_given_moment():
    spec = daily([10])
    assert next_occurrences(spec, TOKYO, tokyo(2024, 3, 1, 10, 0), 1) == [tokyo(2024, 3, 2, 10, 0)]


def test_monthly_31st_skips_months_without_a_31st():
    # The manual: 毎月31日13時45分 does not run in February, April, June, September, November.
    got = next_occurrences(monthly([31], 13, 45), TOKYO, tokyo(2023, 1, 1), count=7)
    assert [o.month for o in got] == [1, 3, 5, 7, 8, 10, 12]
    assert all(o.day == 31 and (o.hour, o.minute) == (13, 45) for o in got)


def test_month_end_is_the_last_day_of_every_month_including_leap_february():
    got = next_occurrences(monthly([MONTH_END], 13, 45), TOKYO, tokyo(2023, 12, 31, 14), count=5)
    assert [o.date() for o in got] == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
        dt.date(2024, 5, 31),
    ]
    feb_2023 = next_occurrences(monthly([MONTH_END], 0), TOKYO, tokyo(2023, 2, 1), 1)
    assert feb_2023[0].date() == dt.date(2023, 2, 28)


def test_monthly_29th_runs_in_february_only_in_leap_years():
    got = next_occurrences(monthly([29], 9), TOKYO, tokyo(2023, 1, 30), count=2)
    assert [o.date() for o in got] == [dt.date(2023, 3, 29), dt.date(2023, 4, 29)]
    leap = next_occurrences(monthly([29], 9), TOKYO, tokyo(2024, 1, 30), count=1)
    assert leap[0].date() == dt.date(2024, 2, 29)


def test_weekly_schedule_fires_on_its_weekday_only():
    got = next_occurrences(weekly([0], 13, 30), TOKYO, tokyo(2024, 3, 1), count=3)  # Friday
    assert [o.date() for o in got] == [
        dt.date(2024, 3, 4),
        dt.date(2024, 3, 11),
        dt.date(2024, 3, 18),
    ]
    assert all(o.weekday() == 0 for o in got)


def test_occurrences_are_in_the_account_time_zone():
    got = next_occurrences(
        daily([0], 30), "Asia/Tokyo", dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC), 1
    )
    # 00:30 in Tokyo is 15:30 UTC of the previous day.
    assert got[0].astimezone(dt.UTC) == dt.datetime(2024, 3, 1, 15, 30, tzinfo=dt.UTC)
    assert got[0].tzinfo == TOKYO


def test_a_local_time_skipped_by_daylight_saving_does_not_run():
    # 2024-03-10 02:30 does not exist in New York.
    got = next_occurrences(
        daily([2], 30), NEW_YORK, dt.datetime(2024, 3, 9, 12, tzinfo=NEW_YORK), 2
    )
    assert [o.date() for o in got] == [dt.date(2024, 3, 11), dt.date(2024, 3, 12)]


def test_a_repeated_local_time_at_the_end_of_daylight_saving_runs_once():
    start = dt.datetime(2024, 11, 2, 12, tzinfo=NEW_YORK)
    got = next_occurrences(daily([1], 30), NEW_YORK, start, 3)
    assert [o.date() for o in got] == [
        dt.date(2024, 11, 3),
        dt.date(2024, 11, 4),
        dt.date(2024, 11, 5),
    ]


def test_hourly_and_every_30_minutes_schedules():
    hourly = ScheduleSpec("hourly", minutes=(0,))
    got = next_occurrences(hourly, TOKYO, tokyo(2024, 3, 1, 23, 10), 2)
    assert got == [tokyo(2024, 3, 2, 0, 0), tokyo(2024, 3, 2, 1, 0)]
    half = ScheduleSpec("every_30_minutes", minutes=(10, 40))
    got = next_occurrences(half, TOKYO, tokyo(2024, 3, 1, 9, 15), 3)
    assert got == [tokyo(2024, 3, 1, 9, 40), tokyo(2024, 3, 1, 10, 10), tokyo(2024, 3, 1, 10, 40)]


def test_naive_moments_are_refused():
    with pytest.raises(ValueError):
        next_occurrences(daily([1]), TOKYO, dt.datetime(2024, 1, 1), 1)


def test_spec_json_round_trip_normalizes_order_and_duplicates():
    spec = ScheduleSpec("monthly", month_days=(MONTH_END, 15, 1, 15), hours=(22, 10), minutes=(5,))
    stored = spec_to_json(spec)
    assert stored["month_days"] == [1, 15, MONTH_END]
    assert stored["hours"] == [10, 22]
    assert spec_from_json(stored) == normalize_spec(spec)


def test_describe_spec_uses_the_manuals_words():
    assert describe_spec(monthly([MONTH_END], 13, 45)) == "毎月月末日 13時 45分"
    assert describe_spec(weekly([1], 13, 30)) == "毎週火曜日 13時 30分"
    assert describe_spec(daily([10, 22])) == "毎日 10時, 22時 0分"
    assert describe_spec(ScheduleSpec("every_30_minutes", minutes=(10, 40))) == "30分毎 10分, 40分"


# --- due slots (dispatch window) -----------------------------------------------------------


def test_due_slot_within_the_grace_window_is_due_once_the_minute_has_come():
    spec = daily([10], 0)
    saved = tokyo(2024, 3, 1, 9, 59, 10)
    assert due_slots(spec, TOKYO, tokyo(2024, 3, 1, 9, 59, 59), saved) == []
    slots = due_slots(spec, TOKYO, tokyo(2024, 3, 1, 10, 0, 4), saved)
    assert slots == [dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.UTC)]


def test_slot_missed_while_stopped_is_not_caught_up():
    spec = daily([10], 0)
    saved = tokyo(2024, 2, 1)
    assert due_slots(spec, TOKYO, tokyo(2024, 3, 1, 10, 30), saved) == []


def test_slot_already_past_when_the_schedule_was_saved_does_not_fire():
    spec = daily([10], 0)
    assert due_slots(spec, TOKYO, tokyo(2024, 3, 1, 10, 0, 50), tokyo(2024, 3, 1, 10, 0, 20)) == []


# --- properties ----------------------------------------------------------------------------

hours_st = st.sets(st.integers(0, 23), min_size=1, max_size=3).map(lambda s: tuple(sorted(s)))
minutes_st = st.sets(st.integers(0, 59), min_size=1, max_size=2).map(lambda s: tuple(sorted(s)))
specs = st.one_of(
    st.builds(
        lambda d, h, m: ScheduleSpec("monthly", month_days=d, hours=h, minutes=m),
        st.sets(st.one_of(st.integers(1, 31), st.just(MONTH_END)), min_size=1, max_size=2).map(
            lambda s: tuple(s)
        ),
        hours_st,
        minutes_st,
    ),
    st.builds(
        lambda w, h, m: ScheduleSpec("weekly", weekdays=w, hours=h, minutes=m),
        st.sets(st.integers(0, 6), min_size=1, max_size=3).map(lambda s: tuple(sorted(s))),
        hours_st,
        minutes_st,
    ),
    st.builds(lambda h, m: ScheduleSpec("daily", hours=h, minutes=m), hours_st, minutes_st),
)
zones = st.sampled_from(["Asia/Tokyo", "UTC", "America/New_York", "Australia/Adelaide"])
moments = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),
    max_value=dt.datetime(2030, 12, 31),
    timezones=st.just(dt.UTC),
)


@settings(max_examples=150, deadline=None)
@given(spec=specs, zone=zones, after=moments)
def test_occurrences_match_the_spec_are_increasing_and_none_is_skipped(spec, zone, after):
    got = next_occurrences(spec, zone, after, count=6)
    assert got, "every valid spec fires within a year"
    assert all(b > a for a, b in zip(got, got[1:], strict=False))
    assert got[0] > after
    wanted_times = set(times_of_day(spec))
    for occurrence in got:
        local = occurrence.astimezone(ZoneInfo(zone))
        assert day_matches(spec, local.date())
        assert local.time().replace(second=0, microsecond=0) in wanted_times
    # The window search agrees exactly: nothing between `after` and the last one was skipped.
    window = occurrences_between(spec, zone, after, got[-1])
    assert window == [o.astimezone(dt.UTC) for o in got]


@settings(max_examples=150, deadline=None)
@given(a=specs, b=specs)
def test_overlap_classification_is_symmetric_and_identical_specs_are_errors(a, b):
    assert classify_overlap(a, b) == classify_overlap(b, a)
    assert classify_overlap(a, a) == "error"


@settings(max_examples=60, deadline=None)
@given(a=specs, b=specs)
def test_overlap_classification_agrees_with_the_actual_firing_times(a, b):
    start = tokyo(2023, 1, 1)
    end = tokyo(2031, 1, 1)  # eight years: every weekday/day-of-month and leap-day combination
    common = set(occurrences_between(a, TOKYO, start, end)) & set(
        occurrences_between(b, TOKYO, start, end)
    )
    verdict = classify_overlap(a, b)
    if verdict == "ok":
        assert not common
    else:
        assert common


# --- the manual's examples (付録6.3) --------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (daily([13], 30), daily([13], 30), "error"),
        (weekly([0], 13, 30), weekly([0], 13, 30), "error"),
        (daily([13], 30), weekly([0], 13, 30), "error"),
        (daily([13], 30), monthly([15], 13, 30), "error"),
        (monthly([1], 13, 30), weekly([1], 13, 30), "confirm"),
        (monthly([30], 13, 30), monthly([MONTH_END], 13, 30), "confirm"),
        (monthly([31], 13, 30), monthly([MONTH_END], 13, 30), "confirm"),
        (weekly([0], 13, 30), weekly([1], 13, 30), "ok"),
        (monthly([1], 13, 30), monthly([2], 13, 30), "ok"),
        (monthly([27], 13, 30), monthly([MONTH_END], 13, 30), "ok"),
        (daily([13], 30), daily([13], 31), "ok"),
        (daily([13, 22], 0), weekly([3], 22, 0), "error"),
    ],
)
def test_manual_examples_of_saving_schedules(a, b, expected):
    assert classify_overlap(a, b) == expected


def test_timeline_merges_processes_in_time_order():
    now = tokyo(2024, 3, 1, 9, 0)
    timeline = next_occurrences_timeline(
        {"customer:1": daily([10]), "view_url": daily([9], 30), "stop_ban": None},
        TOKYO,
        now,
        count=3,
    )
    assert [(e.at.hour, e.at.minute, e.process_name) for e in timeline] == [
        (9, 30, "顧客閲覧URL連携"),
        (10, 0, "顧客情報連携 1"),
        (9, 30, "顧客閲覧URL連携"),
    ]
