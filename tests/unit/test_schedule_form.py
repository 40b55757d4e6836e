"""The schedule editor's posted fields and the save-time check of 付録6.3."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.runs.schedule_form import (
    MSG_HOURS,
    MSG_MINUTE,
    MSG_MINUTE_30,
    MSG_MONTH_DAY,
    MSG_TIMING,
    MSG_WEEKDAY,
    ScheduleFormError,
    check_schedules_for_save,
    editor_values,
    editor_values_from_form,
    parse_schedule_form,
)
from portal.syncs.config import MONTH_END, ScheduleSpec


def form(**fields) -> MultiDict:
    data = MultiDict()
    for name, value in fields.items():
        name = name.replace("__", "-")
        for item in value if isinstance(value, list) else [value]:
            data.add(name, item)
    return data


def test_manual_and_off_timings_carry_no_schedule():
    assert parse_schedule_form(form(p__timing="manual"), "p") == ("manual", None)
    assert parse_schedule_form(form(p__timing="off"), "p") == ("off", None)


def test_missing_timing_is_a_field_error():
    with pytest.raises(ScheduleFormError) as caught:
        parse_schedule_form(form(), "p")
    assert caught.value.errors == {"p-timing": MSG_TIMING}


def test_monthly_month_end_with_several_hours():
    timing, spec = parse_schedule_form(
        form(
            p__timing="schedule",
            p__interval="monthly",
            p__month_day="last",
            p__hours=["22", "10"],
            p__minute="45",
        ),
        "p",
    )
    assert timing == "schedule"
    assert spec == ScheduleSpec("monthly", month_days=(MONTH_END,), hours=(10, 22), minutes=(45,))


def test_weekly_needs_a_weekday_and_daily_needs_an_hour():
    with pytest.raises(ScheduleFormError) as caught:
        parse_schedule_form(form(s__timing="schedule", s__interval="weekly", s__minute="0"), "s")
    assert caught.value.errors == {"s-weekday": MSG_WEEKDAY, "s-hours": MSG_HOURS}


def test_out_of_range_values_are_refused_with_japanese_messages():
    with pytest.raises(ScheduleFormError) as caught:
        parse_schedule_form(
            form(
                p__timing="schedule",
                p__interval="monthly",
                p__month_day="32",
                p__hours="24",
                p__minute="60",
            ),
            "p",
        )
    assert caught.value.errors == {
        "p-month_day": MSG_MONTH_DAY,
        "p-hours": MSG_HOURS,
        "p-minute": MSG_MINUTE,
    }


def test_reaction_variant_is_daily_only():
    timing, spec = parse_schedule_form(
        form(r__timing="schedule", r__hours=["0", "12"], r__minute="1"), "r", variant="daily"
    )
    assert spec == ScheduleSpec("daily", hours=(0, 12), minutes=(1,))
    with pytest.raises(ScheduleFormError):
        parse_schedule_form(
            form(r__timing="schedule", r__interval="weekly", r__hours="1"), "r", variant="daily"
        )


def test_bridge_variants_hourly_and_every_30_minutes():
    _, hourly = parse_schedule_form(
        form(b__timing="schedule", b__interval="hourly", b__minute="0"), "b", "bridge"
    )
    assert hourly == ScheduleSpec("hourly", minutes=(0,))
    _, half = parse_schedule_form(
        form(b__timing="schedule", b__interval="every_30_minutes", b__minute="10"), "b", "bridge"
    )
    assert half == ScheduleSpec("every_30_minutes", minutes=(10, 40))
    with pytest.raises(ScheduleFormError) as caught:
        parse_schedule_form(
            form(b__timing="schedule", b__interval="every_30_minutes", b__minute="31"),
            "b",
            "bridge",
        )
    assert caught.value.errors == {"b-minute": MSG_MINUTE_30}


def test_editor_values_round_trip_through_the_form():
    spec = ScheduleSpec("weekly", weekdays=(0, 4), hours=(9, 18), minutes=(15,))
    values = editor_values("schedule", spec)
    assert values.weekdays == {"0", "4"} and values.hours == {"9", "18"} and values.minute == "15"
    posted = form(
        x__timing="schedule",
        x__interval="weekly",
        x__weekday=["0", "4"],
        x__hours=["9", "18"],
        x__minute="15",
    )
    assert editor_values_from_form(posted, "x") == values
    assert parse_schedule_form(posted, "x") == ("schedule", spec)


# --- 付録6.3 save check with the manual's examples ---------------------------------------


def daily(hour, minute):
    return ScheduleSpec("daily", hours=(hour,), minutes=(minute,))


def weekly(day, hour, minute):
    return ScheduleSpec("weekly", weekdays=(day,), hours=(hour,), minutes=(minute,))


def monthly(day, hour, minute):
    return ScheduleSpec("monthly", month_days=(day,), hours=(hour,), minutes=(minute,))


def test_identical_schedules_are_an_error_naming_both_processes():
    check = check_schedules_for_save({"customer:1": daily(13, 30), "customer:2": daily(13, 30)})
    assert len(check.errors) == 1 and not check.confirmations
    assert "「顧客情報連携 1」と「顧客情報連携 2」" in check.errors[0]
    assert "スケジュール設定が重複しないように設定してください。" in check.errors[0]


def test_daily_at_the_same_time_as_a_weekly_is_an_error():
    check = check_schedules_for_save({"stop_ban": daily(13, 30), "view_url": weekly(0, 13, 30)})
    assert (
        check.errors and "「配信停止 / 禁止顧客一覧連携」と「顧客閲覧URL連携」" in check.errors[0]
    )


def test_schedules_that_coincide_only_in_some_months_ask_for_confirmation():
    check = check_schedules_for_save(
        {"customer:1": monthly(1, 13, 30), "customer:2": weekly(1, 13, 30), "view_url": None}
    )
    assert not check.errors
    assert len(check.confirmations) == 1
    assert "月によっては同じタイミングで実行される可能性があります" in check.confirmations[0]
    month_end = check_schedules_for_save(
        {"customer:3": monthly(30, 13, 30), "stop_ban": monthly(MONTH_END, 13, 30)}
    )
    assert month_end.confirmations and not month_end.errors


def test_schedules_that_never_meet_save_silently():
    check = check_schedules_for_save(
        {
            "customer:1": weekly(0, 13, 30),
            "customer:2": weekly(1, 13, 30),
            "view_url": monthly(1, 9, 0),
        }
    )
    assert check.ok


def test_reaction_history_and_bridge_are_exempt():
    check = check_schedules_for_save(
        {
            "customer:1": daily(13, 30),
            "reaction": daily(13, 30),
            "bridge": ScheduleSpec("every_30_minutes", minutes=(0, 30)),
        }
    )
    assert check.ok
