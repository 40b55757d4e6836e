"""連携条件 → kintone query: operators per type, literals, every date form, AND/OR, summaries."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.connector_types.haihai_kintone.customer.condition_phrases import (
    describe_condition,
    describe_conditions,
)
from portal.connector_types.haihai_kintone.customer.condition_terms import (
    choice_options,
    date_value_kinds,
    month_day_choices,
    operators_for,
    weekday_choices,
)
from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    ConditionFieldMissingError,
    build_query,
    condition_query,
    date_function,
    quote_string,
    resolve_date_value,
)
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet

FIELDS = {
    "name": {"type": "SINGLE_LINE_TEXT", "code": "name", "label": "会社名"},
    "url": {"type": "LINK", "code": "url", "label": "URL"},
    "memo": {"type": "MULTI_LINE_TEXT", "code": "memo", "label": "メモ"},
    "score": {"type": "NUMBER", "code": "score", "label": "スコア"},
    "calc": {"type": "CALC", "code": "calc", "label": "計算"},
    "no": {"type": "RECORD_NUMBER", "code": "no", "label": "レコード番号"},
    "stage": {
        "type": "CHECK_BOX",
        "code": "stage",
        "label": "ステータス",
        "required": False,
        "options": {
            "商談中": {"label": "商談中", "index": "1"},
            "見込み": {"label": "見込み", "index": "0"},
        },
    },
    "area": {
        "type": "DROP_DOWN",
        "code": "area",
        "label": "地域",
        "required": True,
        "options": {"関東": {"label": "関東", "index": "0"}},
    },
    "due": {"type": "DATE", "code": "due", "label": "締切日"},
    "met": {"type": "DATETIME", "code": "met", "label": "面談日時"},
    "created": {"type": "CREATED_TIME", "code": "created", "label": "作成日時"},
    "updated": {"type": "UPDATED_TIME", "code": "updated", "label": "更新日時"},
    "file": {"type": "FILE", "code": "file", "label": "添付"},
}


def q(code: str, op: str, value: object = None, tz: str = "Asia/Tokyo") -> str:
    return condition_query(Condition(code, FIELDS[code]["type"], op, value), FIELDS, tz=tz)


# -- operator tables (付録1.2) -------------------------------------------------------------------


def test_text_and_link_offer_the_five_operators_of_the_manual():
    expected = [
        ("eq", "等しい"),
        ("ne", "等しくない"),
        ("in", "次のいずれかと等しい"),
        ("like", "次のキーワードを含む"),
        ("not_like", "次のキーワードを含まない"),
    ]
    assert operators_for("SINGLE_LINE_TEXT") == expected
    assert operators_for("LINK") == expected


def test_multiline_text_offers_only_keyword_operators():
    assert operators_for("MULTI_LINE_TEXT") == [
        ("like", "次のキーワードを含む"),
        ("not_like", "次のキーワードを含まない"),
    ]


@pytest.mark.parametrize("field_type", ["NUMBER", "CALC", "RECORD_NUMBER"])
def test_numbers_offer_equal_not_equal_at_most_at_least(field_type):
    assert operators_for(field_type) == [
        ("eq", "等しい"),
        ("ne", "等しくない"),
        ("le", "以下"),
        ("ge", "以上"),
    ]


@pytest.mark.parametrize("field_type", ["CHECK_BOX", "MULTI_SELECT", "DROP_DOWN", "RADIO_BUTTON"])
def test_choice_fields_offer_contains_any_and_contains_none(field_type):
    assert operators_for(field_type) == [
        ("in", "次のいずれかを含む"),
        ("not_in", "次のいずれも含まない"),
    ]


@pytest.mark.parametrize("field_type", ["DATE", "DATETIME", "CREATED_TIME", "UPDATED_TIME"])
def test_date_fields_offer_the_six_comparisons(field_type):
    assert operators_for(field_type) == [
        ("eq", "等しい"),
        ("ne", "等しくない"),
        ("le", "以前"),
        ("lt", "より前"),
        ("ge", "以降"),
        ("gt", "より後"),
    ]


@pytest.mark.parametrize("field_type", ["FILE", "SUBTABLE", "USER_SELECT", "TIME", "RICH_TEXT"])
def test_types_outside_the_manual_tables_offer_nothing(field_type):
    assert operators_for(field_type) == []


def test_dialog_choice_lists_match_the_manual():
    kinds = [label for _, label in date_value_kinds("DATETIME")]
    assert kinds == [
        "日時を指定",
        "実行タイミングから",
        "昨日",
        "今日",
        "明日",
        "先週",
        "今週",
        "来週",
        "先月",
        "今月",
        "来月",
        "昨年",
        "今年",
        "来年",
    ]
    assert date_value_kinds("DATE")[0] == ("absolute", "日付を指定")
    assert weekday_choices()[0] == (None, "すべての曜日")
    assert weekday_choices()[1] == ("MONDAY", "月曜日")
    assert weekday_choices()[-1] == ("SUNDAY", "日曜日")
    days = month_day_choices()
    assert days[0] == (None, "すべて") and days[1] == (1, "1日") and days[31] == (31, "31日")
    assert days[-1] == ("LAST", "末日")


def test_choice_options_add_unselected_first_only_when_not_required():
    assert choice_options(FIELDS["stage"]) == [
        ("", "(未選択)"),
        ("見込み", "見込み"),
        ("商談中", "商談中"),
    ]
    assert choice_options(FIELDS["area"]) == [("関東", "関東")]


# -- text, numbers, choices --------------------------------------------------------------------


def test_text_equal_and_not_equal():
    assert q("name", "eq", "ABC") == 'name = "ABC"'
    assert q("name", "ne", "ABC") == 'name != "ABC"'
    assert q("url", "eq", "https://x.jp/") == 'url = "https://x.jp/"'


def test_blank_text_value_asks_for_empty_or_not_empty():
    assert q("name", "eq", "") == 'name = ""'
    assert q("name", "ne", None) == 'name != ""'


def test_text_any_of_splits_half_width_spaces():
    assert q("name", "in", "AA BB  CC") == 'name in ("AA", "BB", "CC")'
    assert q("name", "in", ("A A", "B")) == 'name in ("A A", "B")'
    assert q("name", "in", "") == 'name in ("")'


def test_keyword_operators_use_like_and_need_a_value():
    assert q("name", "like", "株式会社") == 'name like "株式会社"'
    assert q("name", "not_like", "テスト") == 'name not like "テスト"'
    assert q("memo", "like", "重要") == 'memo like "重要"'
    assert q("memo", "not_like", "解約") == 'memo not like "解約"'
    with pytest.raises(ConditionError, match="「メモ」の条件値を入力してください"):
        q("memo", "like", " ")


def test_operator_not_in_the_table_is_refused():
    with pytest.raises(ConditionError, match="「メモ」には条件"):
        q("memo", "eq", "x")
    with pytest.raises(ConditionError):
        q("score", "like", "1")
    with pytest.raises(ConditionError, match="使用できません"):
        condition_query(Condition("file", "FILE", "like", "a"), FIELDS)


def test_number_comparisons_are_bare_and_normalised():
    assert q("score", "eq", "10") == "score = 10"
    assert q("score", "ne", 3) == "score != 3"
    assert q("calc", "le", "-1.5") == "calc <= -1.5"
    assert q("no", "ge", "１，０００") == "no >= 1000"  # full-width digits and separators


def test_number_blank_uses_in_empty_because_kintone_refuses_equal_empty():
    assert q("score", "eq", "") == 'score in ("")'
    assert q("score", "ne", "") == 'score not in ("")'
    with pytest.raises(ConditionError, match="条件値を入力してください"):
        q("score", "le", "")


def test_number_value_must_be_numeric():
    with pytest.raises(ConditionError, match="数値を入力してください"):
        q("score", "eq", "12a")


def test_choices_in_and_not_in_with_unselected_as_empty_string():
    assert q("stage", "in", ("見込み", "商談中")) == 'stage in ("見込み", "商談中")'
    assert q("stage", "not_in", ("", "見込み")) == 'stage not in ("", "見込み")'
    assert q("area", "in", ["関東"]) == 'area in ("関東")'


def test_choice_condition_needs_at_least_one_option():
    with pytest.raises(ConditionError, match="選択肢を1つ以上選択"):
        q("stage", "in", ())


def test_emptiness_operators_follow_each_type():
    assert q("memo", "is_empty") == "memo is empty"
    assert q("memo", "is_not_empty") == "memo is not empty"
    assert q("name", "is_empty") == 'name = ""'
    assert q("stage", "is_not_empty") == 'stage not in ("")'
    with pytest.raises(ConditionError):
        q("due", "is_empty")


# -- escaping ------------------------------------------------------------------------------------


def test_quotes_and_backslashes_are_escaped():
    assert quote_string('a"b\\c') == '"a\\"b\\\\c"'
    assert q("name", "eq", 'say "hi"') == 'name = "say \\"hi\\""'
    assert q("name", "like", "C:\\tmp") == 'name like "C:\\\\tmp"'


def test_tabs_and_newlines_become_escapes_not_raw_characters():
    assert quote_string("a\tb\r\nc") == '"a\\tb\\nc"'


def _unquote(literal: str) -> str:
    """Read a kintone string literal back (the inverse the server applies)."""
    assert literal[0] == literal[-1] == '"'
    out, i, body = [], 0, literal[1:-1]
    escapes = {'"': '"', "\\": "\\", "t": "\t", "n": "\n"}
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(escapes[body[i + 1]])
            i += 2
            continue
        assert ch != '"', "unescaped quote inside a literal"
        out.append(ch)
        i += 1
    return "".join(out)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")))
def test_any_text_round_trips_through_a_literal(text):
    literal = quote_string(text)
    assert "\n" not in literal and "\t" not in literal
    assert _unquote(literal) == text


@given(st.lists(st.text(min_size=1).filter(lambda s: "\r" not in s), min_size=1, max_size=5))
def test_choice_lists_of_any_labels_stay_one_literal_each(labels):
    query = q("stage", "in", tuple(labels))
    inner = query.removeprefix("stage in (").removesuffix(")")
    literals = []
    depth_text, i = "", 0
    while i < len(inner):
        if inner[i] == '"':
            j = i + 1
            while inner[j] != '"':
                j += 2 if inner[j] == "\\" else 1
            literals.append(_unquote(inner[i : j + 1]))
            i = j + 1
        else:
            depth_text += inner[i]
            i += 1
    assert literals == list(dict.fromkeys(labels))
    assert set(depth_text) <= {",", " "}


def test_unsafe_field_codes_are_refused():
    with pytest.raises(ConditionError):
        condition_query(Condition("a b", "SINGLE_LINE_TEXT", "eq", "x"))
    with pytest.raises(ConditionError):
        condition_query(Condition('a"or', "SINGLE_LINE_TEXT", "eq", "x"))
    assert condition_query(Condition("会社名_2", "SINGLE_LINE_TEXT", "eq", "x")) == '会社名_2 = "x"'


# -- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "symbol"),
    [("eq", "="), ("ne", "!="), ("le", "<="), ("lt", "<"), ("ge", ">="), ("gt", ">")],
)
def test_date_field_with_a_fixed_date_compares_the_day(op, symbol):
    assert q("due", op, {"kind": "absolute", "value": "2024-01-31"}) == f'due {symbol} "2024-01-31"'


def test_date_value_accepts_slashes_and_a_plain_string():
    assert q("due", "eq", "2024/1/5") == 'due = "2024-01-05"'


def test_invalid_dates_are_refused_with_the_field_label():
    with pytest.raises(ConditionError, match="「締切日」の条件値の日付が正しくありません"):
        q("due", "eq", {"kind": "absolute", "value": "2023-02-30"})
    with pytest.raises(ConditionError, match="日付を指定してください"):
        q("due", "eq", {"kind": "absolute", "value": ""})


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("eq", 'met >= "2024-01-30T15:00:00Z" and met < "2024-01-31T15:00:00Z"'),
        ("ne", 'met < "2024-01-30T15:00:00Z" or met >= "2024-01-31T15:00:00Z"'),
        ("le", 'met < "2024-01-31T15:00:00Z"'),
        ("lt", 'met < "2024-01-30T15:00:00Z"'),
        ("ge", 'met >= "2024-01-30T15:00:00Z"'),
        ("gt", 'met >= "2024-01-31T15:00:00Z"'),
    ],
)
def test_datetime_field_with_a_date_means_the_whole_local_day(op, expected):
    assert q("met", op, {"kind": "absolute", "value": "2024-01-31"}) == expected


def test_whole_day_follows_the_account_time_zone():
    assert (
        q("created", "eq", "2024-07-01", tz="America/New_York")
        == 'created >= "2024-07-01T04:00:00Z" and created < "2024-07-02T04:00:00Z"'
    )


def test_datetime_with_a_time_is_converted_to_utc_minutes():
    assert q("met", "ge", {"kind": "absolute", "value": "2024-01-31 09:30"}) == (
        'met >= "2024-01-31T00:30:00Z"'
    )
    assert q("updated", "lt", "2024-01-31T09:30:45+09:00") == 'updated < "2024-01-31T00:30:00Z"'
    assert q("updated", "eq", "2024-01-31T00:30Z") == 'updated = "2024-01-31T00:30:00Z"'


@pytest.mark.parametrize(
    ("value", "function"),
    [
        (
            {"kind": "from_today", "amount": 3, "unit": "days", "direction": "before"},
            "FROM_TODAY(-3, DAYS)",
        ),
        (
            {"kind": "from_today", "amount": 2, "unit": "weeks", "direction": "after"},
            "FROM_TODAY(2, WEEKS)",
        ),
        (
            {"kind": "from_today", "amount": "1", "unit": "months", "direction": "before"},
            "FROM_TODAY(-1, MONTHS)",
        ),
        (
            {"kind": "from_today", "amount": 5, "unit": "years", "direction": "after"},
            "FROM_TODAY(5, YEARS)",
        ),
        (
            {"kind": "from_today", "amount": 0, "unit": "days", "direction": "before"},
            "FROM_TODAY(0, DAYS)",
        ),
        ({"kind": "yesterday"}, "YESTERDAY()"),
        ({"kind": "today"}, "TODAY()"),
        ({"kind": "tomorrow"}, "TOMORROW()"),
        ({"kind": "last_week", "weekday": None}, "LAST_WEEK()"),
        ({"kind": "this_week", "weekday": "MONDAY"}, "THIS_WEEK(MONDAY)"),
        ({"kind": "next_week", "weekday": "日"}, "NEXT_WEEK(SUNDAY)"),
        ({"kind": "last_week", "weekday": 4}, "LAST_WEEK(FRIDAY)"),
        ({"kind": "last_month", "day": 31}, "LAST_MONTH(31)"),
        ({"kind": "this_month", "day": "LAST"}, "THIS_MONTH(LAST)"),
        ({"kind": "next_month", "day": None}, "NEXT_MONTH()"),
        ({"kind": "next_month", "day": "末日"}, "NEXT_MONTH(LAST)"),
        ({"kind": "this_month", "day": 1}, "THIS_MONTH(1)"),
        ({"kind": "last_year"}, "LAST_YEAR()"),
        ({"kind": "this_year"}, "THIS_YEAR()"),
        ({"kind": "next_year"}, "NEXT_YEAR()"),
    ],
)
def test_every_relative_date_form_becomes_its_kintone_function(value, function):
    assert date_function(value) == function
    assert q("due", "le", value) == f"due <= {function}"
    # On datetime fields the function is kept: kintone treats it as the whole day/period.
    assert q("created", "eq", value) == f"created = {function}"


@pytest.mark.parametrize(
    "value",
    [
        {"kind": "from_today", "amount": -1, "unit": "days", "direction": "before"},
        {"kind": "from_today", "amount": 1, "unit": "hours", "direction": "before"},
        {"kind": "from_today", "amount": 1, "unit": "days", "direction": "later"},
        {"kind": "this_month", "day": 32},
        {"kind": "this_week", "weekday": "FUNDAY"},
        {"kind": "someday"},
    ],
)
def test_malformed_relative_dates_are_refused(value):
    with pytest.raises(ConditionError):
        q("due", "eq", value)


# The manual's day-overflow examples (付録1.2 注意事項) and the 30-day case.
@pytest.mark.parametrize(
    ("value", "today", "expected"),
    [
        ({"kind": "this_month", "day": 31}, dt.date(2023, 2, 10), dt.date(2023, 3, 1)),
        ({"kind": "last_month", "day": 31}, dt.date(2023, 3, 10), dt.date(2023, 3, 1)),
        ({"kind": "next_month", "day": 31}, dt.date(2023, 1, 10), dt.date(2023, 3, 1)),
        ({"kind": "next_month", "day": 31}, dt.date(2023, 3, 15), dt.date(2023, 5, 1)),
        ({"kind": "this_month", "day": 29}, dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ({"kind": "this_month", "day": 29}, dt.date(2023, 2, 1), dt.date(2023, 3, 1)),
        ({"kind": "next_month", "day": 31}, dt.date(2023, 12, 5), dt.date(2024, 1, 31)),
        ({"kind": "this_month", "day": "LAST"}, dt.date(2023, 2, 10), dt.date(2023, 2, 28)),
    ],
)
def test_day_missing_from_the_month_is_the_first_of_the_next_month(value, today, expected):
    assert resolve_date_value(value, today) == (expected, expected)


def test_resolved_periods_match_kintone_semantics():
    wednesday = dt.date(2024, 5, 15)
    # Weeks run Sunday..Saturday.
    assert resolve_date_value({"kind": "this_week"}, wednesday) == (
        dt.date(2024, 5, 12),
        dt.date(2024, 5, 18),
    )
    assert resolve_date_value({"kind": "last_week", "weekday": "MONDAY"}, wednesday) == (
        dt.date(2024, 5, 6),
        dt.date(2024, 5, 6),
    )
    assert resolve_date_value({"kind": "next_week", "weekday": "SUNDAY"}, wednesday) == (
        dt.date(2024, 5, 19),
        dt.date(2024, 5, 19),
    )
    assert resolve_date_value({"kind": "last_month"}, dt.date(2024, 3, 31)) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )
    assert resolve_date_value({"kind": "next_year"}, wednesday) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    )
    assert resolve_date_value(
        {"kind": "from_today", "amount": 1, "unit": "months", "direction": "after"},
        dt.date(2024, 1, 31),
    ) == (dt.date(2024, 2, 29), dt.date(2024, 2, 29))
    assert resolve_date_value({"kind": "yesterday"}, dt.date(2024, 3, 1)) == (
        dt.date(2024, 2, 29),
        dt.date(2024, 2, 29),
    )
    assert resolve_date_value({"kind": "absolute", "value": "2024-01-02 10:00"}, wednesday) == (
        dt.date(2024, 1, 2),
        dt.date(2024, 1, 2),
    )


# -- combining, fields -------------------------------------------------------------------------


def test_all_joins_with_and_any_with_or_each_part_parenthesised():
    conditions = (
        Condition("created", "CREATED_TIME", "le", {"kind": "yesterday"}),
        Condition("updated", "UPDATED_TIME", "le", {"kind": "yesterday"}),
    )
    assert build_query(ConditionSet("all", conditions), FIELDS) == (
        "(created <= YESTERDAY()) and (updated <= YESTERDAY())"
    )
    assert build_query(ConditionSet("any", conditions), FIELDS) == (
        "(created <= YESTERDAY()) or (updated <= YESTERDAY())"
    )


def test_or_of_whole_day_ranges_keeps_each_range_together():
    conditions = (
        Condition("met", "DATETIME", "eq", "2024-01-31"),
        Condition("name", "SINGLE_LINE_TEXT", "eq", "A"),
    )
    assert build_query(ConditionSet("any", conditions), FIELDS) == (
        '(met >= "2024-01-30T15:00:00Z" and met < "2024-01-31T15:00:00Z") or (name = "A")'
    )


def test_no_conditions_give_an_empty_query():
    assert build_query(ConditionSet()) == ""


def test_single_condition_is_not_wrapped():
    only = ConditionSet("any", (Condition("score", "NUMBER", "ge", "5"),))
    assert build_query(only, FIELDS) == "score >= 5"


def test_condition_on_a_deleted_field_names_it():
    gone = ConditionSet("all", (Condition("old_code", "NUMBER", "eq", "1"),))
    with pytest.raises(ConditionFieldMissingError, match="old_code") as info:
        build_query(gone, FIELDS)
    assert "kintone項目の同期" in info.value.user_message
    assert info.value.field_code == "old_code"


def test_condition_whose_field_type_changed_is_refused():
    changed = ConditionSet("all", (Condition("score", "SINGLE_LINE_TEXT", "eq", "1"),))
    with pytest.raises(ConditionFieldMissingError, match="フィールドタイプが変更"):
        build_query(changed, FIELDS)


def test_without_fields_no_existence_check_is_made():
    assert build_query(ConditionSet("all", (Condition("x", "NUMBER", "eq", "1"),))) == "x = 1"


# -- summaries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (
            Condition("stage", "CHECK_BOX", "in", ("見込み", "商談中")),
            "ステータスが「見込み」「商談中」のいずれか",
        ),
        (
            Condition("stage", "CHECK_BOX", "not_in", ("",)),
            "ステータスが「(未選択)」のいずれでもない",
        ),
        (Condition("name", "SINGLE_LINE_TEXT", "eq", "ABC"), "会社名が「ABC」と等しい"),
        (Condition("name", "SINGLE_LINE_TEXT", "ne", ""), "会社名が空欄ではない"),
        (
            Condition("name", "SINGLE_LINE_TEXT", "in", "AA BB"),
            "会社名が「AA」「BB」のいずれかと等しい",
        ),
        (Condition("memo", "MULTI_LINE_TEXT", "like", "重要"), "メモに「重要」を含む"),
        (Condition("score", "NUMBER", "ge", "10"), "スコアが10以上"),
        (
            Condition("created", "CREATED_TIME", "le", {"kind": "yesterday"}),
            "作成日時が昨日以前",
        ),
        (
            Condition("created", "CREATED_TIME", "lt", {"kind": "last_week", "weekday": "MONDAY"}),
            "作成日時が先週の月曜日より前",
        ),
        (
            Condition("created", "CREATED_TIME", "gt", {"kind": "this_week"}),
            "作成日時が今週より後",
        ),
        (
            Condition("due", "DATE", "eq", {"kind": "next_month", "day": "LAST"}),
            "締切日が来月の末日",
        ),
        (
            Condition("due", "DATE", "ne", {"kind": "this_month", "day": 31}),
            "締切日が今月の31日ではない",
        ),
        (Condition("due", "DATE", "ge", {"kind": "last_month"}), "締切日が先月以降"),
        (
            Condition(
                "updated",
                "UPDATED_TIME",
                "ge",
                {"kind": "from_today", "amount": 3, "unit": "days", "direction": "before"},
            ),
            "更新日時が実行日時の3日前以降",
        ),
        (
            Condition("met", "DATETIME", "eq", {"kind": "absolute", "value": "2024-01-31T09:00"}),
            "面談日時が2024-01-31 09:00",
        ),
        (Condition("due", "DATE", "eq", {"kind": "next_year"}), "締切日が来年"),
        (Condition("memo", "MULTI_LINE_TEXT", "is_empty"), "メモが空欄"),
        (
            Condition(
                "due",
                "DATE",
                "ge",
                {"kind": "from_today", "amount": 3, "unit": "years", "direction": "before"},
            ),
            "締切日が実行日の3年前以降",
        ),
        (Condition("memo", "MULTI_LINE_TEXT", "not_like", "済"), "メモに「済」を含まない"),
        (Condition("score", "NUMBER", "ne", "0"), "スコアが0ではない"),
        (Condition("score", "NUMBER", "eq", ""), "スコアが空欄"),
        (Condition("stage", "CHECK_BOX", "in", ()), "ステータスが「(未選択)」のいずれか"),
        (Condition("due", "DATE", "eq", {"kind": "tomorrow"}), "締切日が明日"),
        (Condition("due", "DATE", "eq", {"kind": "bogus"}), "締切日が(不明な指定)"),
    ],
)
def test_describe_condition_gives_one_japanese_line(condition, text):
    assert describe_condition(condition, FIELDS) == text


def test_describe_uses_the_code_when_the_field_is_unknown_and_lists_all():
    conditions = ConditionSet(
        "all",
        (
            Condition("gone", "NUMBER", "eq", "1"),
            Condition("score", "NUMBER", "le", "2"),
        ),
    )
    assert describe_conditions(conditions, FIELDS) == ["goneが1", "スコアが2以下"]
