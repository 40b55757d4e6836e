"""The values 配信停止/禁止顧客一覧連携 writes (manual 付録2.1, 2.2), computed without any I/O.

Every field type of 付録2.2 × every 連携種別 × with and without 「…ではなくなった場合の連携」, for
each of the four memberships (in neither list, 配信停止 only, 配信禁止 only, both), and the two
worked examples of 付録2.1.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_BAN,
    MODE_LABELS,
    MODE_SAME,
    MODE_SEPARATE,
    MODE_STOP,
    FieldRule,
    StopBanSetting,
)
from portal.connector_types.haihai_kintone.stop_ban.lists import EmailHashSet
from portal.connector_types.haihai_kintone.stop_ban.values import (
    CHANGE,
    NO_EMAIL,
    REASON_BAN,
    REASON_NEITHER,
    REASON_NOT_BAN,
    REASON_NOT_STOP,
    REASON_STOP,
    TARGET_TYPES,
    UNCHANGED,
    UNTARGETED,
    PlanError,
    RecordPlanner,
    default_value,
    field_plans,
    same_value,
)
from portal.demo_fixtures import choice_field_options

TZ = "Asia/Tokyo"
# The run starts 2023-02-01 02:10:37 in Tokyo (付録2.2's examples: 「2023-02-01」, 「2023-02-01 02:10:00」).
MOMENT = dt.datetime(2023, 1, 31, 17, 10, 37, tzinfo=dt.UTC)
RUN_DATE = "2023-02-01"
RUN_MINUTE = "2023-01-31T17:10:00Z"
OPTIONS = ("選択肢A", "選択肢B", "選択肢C")

# Per type: (配信停止連携の値, 配信禁止連携の値, 「ではなくなった」の値) as stored, and as written.
CASES: dict[str, tuple[tuple, tuple, tuple, object, object, object]] = {
    "CHECK_BOX": (
        ("選択肢A", "選択肢B"),
        ("選択肢C",),
        (),  # (未選択)
        ["選択肢A", "選択肢B"],
        ["選択肢C"],
        [],
    ),
    "MULTI_SELECT": (
        ("選択肢A",),
        ("選択肢B", "選択肢C"),
        ("選択肢C",),
        ["選択肢A"],
        ["選択肢B", "選択肢C"],
        ["選択肢C"],
    ),
    "DROP_DOWN": (("選択肢A",), ("選択肢B",), (), "選択肢A", "選択肢B", ""),
    "RADIO_BUTTON": (("選択肢A",), ("選択肢B",), ("選択肢C",), "選択肢A", "選択肢B", "選択肢C"),
    "DATE": ((), (), (), RUN_DATE, RUN_DATE, ""),
    "DATETIME": ((), (), (), RUN_MINUTE, RUN_MINUTE, ""),
    "SINGLE_LINE_TEXT": (
        ("配信停止",),
        ("配信禁止",),
        ("配信可能",),
        "配信停止",
        "配信禁止",
        "配信可能",
    ),
    "MULTI_LINE_TEXT": (
        ("停止\n(配配メール)",),
        ("禁止",),
        ("",),
        "停止\n(配配メール)",
        "禁止",
        "",
    ),
    "NUMBER": (("1",), (" 2 ",), ("0",), "1", "2", "0"),
}

# 付録2.1: which value each field gets, per membership (in 配信停止, in 配信禁止).
# Keys: "stop" = 配信停止連携の値, "ban" = 配信禁止連携の値, "cleared" = 「ではなくなった」の値.
EXPECTED: dict[str, dict[tuple[bool, bool], dict[str, str]]] = {
    MODE_STOP: {
        (False, False): {"first": "cleared"},
        (True, False): {"first": "stop"},
        (False, True): {"first": "cleared"},
        (True, True): {"first": "stop"},
    },
    MODE_BAN: {
        (False, False): {"second": "cleared"},
        (True, False): {"second": "cleared"},
        (False, True): {"second": "ban"},
        (True, True): {"second": "ban"},
    },
    MODE_SEPARATE: {
        (False, False): {"first": "cleared", "second": "cleared"},
        (True, False): {"first": "stop", "second": "cleared"},
        (False, True): {"first": "cleared", "second": "ban"},
        (True, True): {"first": "stop", "second": "ban"},
    },
    MODE_SAME: {
        (False, False): {"first": "cleared"},
        (True, False): {"first": "stop"},
        (False, True): {"first": "ban"},
        (True, True): {"first": "ban"},  # 配信禁止 wins
    },
}


def expected_reason(mode: str, code: str, which: str) -> str:
    """Why 付録2.1 writes `which` into field `code` ("first" carries 配信停止 except in MODE_BAN)."""
    if which == "stop":
        return REASON_STOP
    if which == "ban":
        return REASON_BAN
    if mode == MODE_SAME:
        return REASON_NEITHER
    return REASON_NOT_BAN if mode == MODE_BAN or code == "second" else REASON_NOT_STOP


def properties_for(field_type: str) -> dict:
    """Two fields of `field_type` ("first", "second") plus the mail-address field."""
    fields = {"mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス", "code": "mail"}}
    for code, label in (("first", "項目1"), ("second", "項目2")):
        prop = {"type": field_type, "label": label, "code": code, "required": False}
        if field_type in ("CHECK_BOX", "MULTI_SELECT", "DROP_DOWN", "RADIO_BUTTON"):
            prop["options"] = choice_field_options(OPTIONS)
        fields[code] = prop
    return fields


def setting_for(field_type: str, mode: str, cleared: bool) -> StopBanSetting:
    stop_values, ban_values, cleared_values = CASES[field_type][:3]
    first_code = "first"
    second_code = "first" if mode == MODE_SAME else "second"
    stop = FieldRule(
        first_code, field_type, stop_values, cleared, cleared_values if cleared else ()
    )
    ban = FieldRule(
        second_code,
        field_type,
        ban_values,
        cleared and mode != MODE_SAME,
        cleared_values if cleared and mode != MODE_SAME else (),
    )
    return StopBanSetting(timing="manual", mode=mode, stop=stop, ban=ban)


@pytest.mark.parametrize(
    ("field_type", "mode", "cleared"),
    list(itertools.product(TARGET_TYPES, MODE_LABELS, (False, True))),
)
def test_every_type_mode_and_cleared_choice_writes_the_manuals_value(field_type, mode, cleared):
    plans = field_plans(
        setting_for(field_type, mode, cleared), properties_for(field_type), MOMENT, TZ
    )
    written = dict(zip(("stop", "ban", "cleared"), CASES[field_type][3:], strict=True))
    assert [p.code for p in plans] == sorted({c for e in EXPECTED[mode].values() for c in e})
    for membership, fields in EXPECTED[mode].items():
        got = {}
        for plan in plans:
            outcome = plan.outcome(*membership)
            if outcome is not None:
                got[plan.code] = outcome.value.value
                which = fields[plan.code]
                assert outcome.reason == expected_reason(mode, plan.code, which)
        expected = {
            code: written[which] for code, which in fields.items() if which != "cleared" or cleared
        }
        assert got == expected, (membership, got)


def test_date_and_datetime_labels_follow_the_manuals_examples():
    plans = field_plans(
        setting_for("DATETIME", MODE_STOP, True), properties_for("DATETIME"), MOMENT, TZ
    )
    assert plans[0].when_stopped.value.label == "2023-02-01 02:10:00"
    assert plans[0].otherwise.value.label == "値なし"
    plans = field_plans(setting_for("DATE", MODE_BAN, False), properties_for("DATE"), MOMENT, TZ)
    assert plans[0].when_banned.value.value == "2023-02-01"


@pytest.mark.parametrize(
    ("field_type", "prop", "expected"),
    [
        ("DATE", {"defaultValue": "2020-04-01"}, "2020-04-01"),
        ("DATE", {"defaultNowValue": True}, RUN_DATE),
        ("DATE", {"defaultValue": ""}, ""),
        ("DATETIME", {"defaultValue": "2020-04-01T09:30:00.000Z"}, "2020-04-01T09:30:00Z"),
        ("DATETIME", {"defaultNowValue": True}, RUN_MINUTE),
        ("DATETIME", {}, ""),
    ],
)
def test_cleared_dates_get_kintones_default_or_blank(field_type, prop, expected):
    assert default_value(field_type, prop, MOMENT, TZ).value == expected


def test_a_required_date_cannot_be_reset_and_the_field_is_named():
    properties = properties_for("DATE")
    properties["first"].update(required=True, defaultValue="2020-04-01")
    with pytest.raises(PlanError) as refused:
        field_plans(setting_for("DATE", MODE_STOP, True), properties, MOMENT, TZ)
    assert "「項目1」" in refused.value.message
    assert "他の項目への連携を行うように設定してください。" in refused.value.message
    # Without 「ではなくなった」 the run date is written as usual.
    assert field_plans(setting_for("DATE", MODE_STOP, False), properties, MOMENT, TZ)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.pop("first"), ("フィールドコード: first", "見つかりません")),
        (
            lambda p: p["first"].update(type="SINGLE_LINE_TEXT"),
            ("種類が変更", "ドロップダウン → 文字列(1行)"),
        ),
        (
            lambda p: p["first"].update(options=choice_field_options(("選択肢B",))),
            ("選択肢「選択肢A」",),
        ),
        (lambda p: p["second"].update(required=True), ("「項目2」は必須項目",)),
    ],
)
def test_settings_that_no_longer_fit_the_app_stop_the_run_before_any_write(change, words):
    properties = properties_for("DROP_DOWN")
    change(properties)
    setting = setting_for("DROP_DOWN", MODE_SEPARATE, True)
    setting = StopBanSetting(
        timing="manual",
        mode=MODE_SEPARATE,
        stop=setting.stop,
        ban=FieldRule("second", "DROP_DOWN", ("選択肢B",), True, ()),  # 「(未選択)」 when cleared
    )
    with pytest.raises(PlanError) as refused:
        field_plans(setting, properties, MOMENT, TZ)
    for word in words:
        assert word in refused.value.message


def test_a_number_that_is_not_one_and_a_missing_rule_are_refused():
    bad = StopBanSetting(
        timing="manual", mode=MODE_STOP, stop=FieldRule("first", "NUMBER", ("１００",))
    )
    with pytest.raises(PlanError, match="数値ではありません"):
        field_plans(bad, properties_for("NUMBER"), MOMENT, TZ)
    with pytest.raises(PlanError, match="配信禁止連携の連携項目が設定されていません"):
        field_plans(
            StopBanSetting(timing="manual", mode=MODE_BAN), properties_for("NUMBER"), MOMENT, TZ
        )


@pytest.mark.parametrize(
    ("field_type", "current", "target", "same"),
    [
        ("CHECK_BOX", ["b", "a"], ["a", "b"], True),
        ("CHECK_BOX", ["a"], ["a", "b"], False),
        ("MULTI_SELECT", [], [], True),
        ("DROP_DOWN", None, "", True),
        ("RADIO_BUTTON", "a", "b", False),
        ("NUMBER", "100.0", "100", True),
        ("NUMBER", "", "0", False),
        ("DATE", "2023-02-01", "2023-02-01", True),
        ("DATETIME", "2023-01-31T17:10:00Z", "2023-01-31T17:10:00Z", True),
        ("DATETIME", "2023-02-01T02:10:00+09:00", RUN_MINUTE, True),
        ("DATETIME", "", RUN_MINUTE, False),
        ("SINGLE_LINE_TEXT", "配信停止", "配信停止 ", False),
    ],
)
def test_only_real_differences_count_as_changes(field_type, current, target, same):
    assert same_value(field_type, current, target) is same


# --- the worked examples of 付録2.1 -----------------------------------------------------------

STOPPED = EmailHashSet.from_addresses(["aaa@example.com", "bbb@example.com"])
BANNED = EmailHashSet.from_addresses(["aaa@example.com", "ccc@example.com"])
PEOPLE = ["aaa@example.com", "bbb@example.com", "ccc@example.com", "ddd@example.com"]


def _choice(label: str, *options: str) -> dict:
    return {"type": "DROP_DOWN", "label": label, "options": choice_field_options(options)}


EXAMPLE_FIELDS = {
    "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
    "stop": _choice("配信停止", "配信停止", "配信停止ではない"),
    "ban": _choice("配信禁止", "配信禁止", "配信禁止ではない"),
    "both": _choice("配信停止禁止", "配信停止", "配信禁止", "配信停止、配信禁止ではない"),
}


def _records(**current) -> list[dict]:
    return [
        {
            "$id": {"value": str(n)},
            "$revision": {"value": "3"},
            "mail": {"value": email},
            **{code: {"value": value} for code, value in current.items()},
        }
        for n, email in enumerate(PEOPLE, start=1)
    ]


def _result(setting: StopBanSetting, records: list[dict]) -> dict[str, dict]:
    plans = field_plans(setting, EXAMPLE_FIELDS, MOMENT, TZ)
    planner = RecordPlanner("mail", plans, STOPPED.__contains__, BANNED.__contains__)
    out = {}
    for record in records:
        decision = planner.decide(record)
        assert decision.status == CHANGE
        assert decision.write.payload()["revision"] == 3
        out[record["mail"]["value"]] = dict(decision.write.values)
    return out


def test_example_both_lists_into_separate_fields():
    setting = StopBanSetting(
        timing="manual",
        mode=MODE_SEPARATE,
        stop=FieldRule("stop", "DROP_DOWN", ("配信停止",), True, ("配信停止ではない",)),
        ban=FieldRule("ban", "DROP_DOWN", ("配信禁止",), True, ("配信禁止ではない",)),
    )
    assert _result(setting, _records()) == {
        "aaa@example.com": {"stop": "配信停止", "ban": "配信禁止"},
        "bbb@example.com": {"stop": "配信停止", "ban": "配信禁止ではない"},
        "ccc@example.com": {"stop": "配信停止ではない", "ban": "配信禁止"},
        "ddd@example.com": {"stop": "配信停止ではない", "ban": "配信禁止ではない"},
    }


def test_example_both_lists_into_the_same_field():
    setting = StopBanSetting(
        timing="manual",
        mode=MODE_SAME,
        stop=FieldRule("both", "DROP_DOWN", ("配信停止",), True, ("配信停止、配信禁止ではない",)),
        ban=FieldRule("both", "DROP_DOWN", ("配信禁止",)),
    )
    assert _result(setting, _records()) == {
        "aaa@example.com": {"both": "配信禁止"},
        "bbb@example.com": {"both": "配信停止"},
        "ccc@example.com": {"both": "配信禁止"},
        "ddd@example.com": {"both": "配信停止、配信禁止ではない"},
    }


def test_records_without_address_or_value_are_skipped_and_equal_values_not_written():
    setting = StopBanSetting(
        timing="manual", mode=MODE_STOP, stop=FieldRule("stop", "DROP_DOWN", ("配信停止",))
    )
    plans = field_plans(setting, EXAMPLE_FIELDS, MOMENT, TZ)
    planner = RecordPlanner("mail", plans, STOPPED.__contains__, BANNED.__contains__)
    records = _records(stop="配信停止")
    assert [planner.decide(r).status for r in records] == [
        UNCHANGED,
        UNCHANGED,
        UNTARGETED,  # not stopped and no 「ではなくなった」
        UNTARGETED,
    ]
    assert planner.decide({"$id": {"value": "9"}, "mail": {"value": "not-an-address"}}).status == (
        NO_EMAIL
    )
    # The domain is compared case-insensitively, the local part exactly.
    upper = {**records[0], "mail": {"value": "aaa@EXAMPLE.COM"}, "stop": {"value": None}}
    assert planner.decide(upper).status == CHANGE
    other = {**records[0], "mail": {"value": "AAA@example.com"}, "stop": {"value": None}}
    assert planner.decide(other).status == UNTARGETED
    assert planner.read_fields == ["mail", "stop", "$id", "$revision"]
