"""The query parser and compiler called directly, over plain dict records: many small cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.kintone.clock import USER_TZ
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.query import (
    FieldRef,
    QueryEnv,
    compile_query,
    parse,
    sort_records,
    tokenize,
    word_search,
)

# A fake record is a dict; "_id" is the record id and "rows" holds table rows.
REFS = {
    "$id": FieldRef("$id", "__ID__", get=lambda r: r["_id"]),
    "レコード番号": FieldRef("レコード番号", "RECORD_NUMBER", get=lambda r: r["_id"]),
    "title": FieldRef("title", "SINGLE_LINE_TEXT", get=lambda r: r.get("title", "")),
    "memo": FieldRef("memo", "MULTI_LINE_TEXT", get=lambda r: r.get("memo", "")),
    "qty": FieldRef("qty", "NUMBER", get=lambda r: r.get("qty", "")),
    "tags": FieldRef("tags", "CHECK_BOX", get=lambda r: r.get("tags", [])),
    "kind": FieldRef("kind", "DROP_DOWN", get=lambda r: r.get("kind")),
    "status": FieldRef("status", "STATUS", get=lambda r: r.get("status", "")),
    "due": FieldRef("due", "DATE", get=lambda r: r.get("due")),
    "at": FieldRef("at", "TIME", get=lambda r: r.get("at")),
    "when": FieldRef("when", "DATETIME", get=lambda r: r.get("when", "")),
    "owner": FieldRef("owner", "USER_SELECT", get=lambda r: r.get("owner", [])),
    "org": FieldRef("org", "ORGANIZATION_SELECT", get=lambda r: r.get("org", [])),
    "creator": FieldRef("creator", "CREATOR", get=lambda r: r.get("creator")),
    "files": FieldRef(
        "files",
        "FILE",
        get=lambda r: r.get("files", []),
        text=lambda v: " ".join(f["name"] for f in v or []),
    ),
    "item": FieldRef(
        "item",
        "SINGLE_LINE_TEXT",
        get=lambda row: row.get("item", ""),
        table="items",
        rows=lambda r: r.get("rows", []),
    ),
    "n": FieldRef(
        "n",
        "NUMBER",
        get=lambda row: row.get("n", ""),
        table="items",
        rows=lambda r: r.get("rows", []),
    ),
    "items": FieldRef("items", "SUBTABLE", get=lambda r: r.get("rows", [])),
}
# 2026-04-22 (Wednesday) 10:00 in Tokyo.
NOW = datetime(2026, 4, 22, 1, 0, tzinfo=UTC)


def resolve(code: str) -> FieldRef:
    if code not in REFS:
        from sandbox.kintone.errors import coded

        raise coded(400, "GAIA_IQ11", field=code)
    return REFS[code]


def compiled(text: str, **kwargs):
    return compile_query(text, resolve, QueryEnv(now=NOW, tz=USER_TZ, login_user="alice"), **kwargs)


def matches(text: str, record: dict) -> bool:
    cq = compiled(text)
    record = {"_id": 1, **record}
    if cq.impossible:
        return False
    if cq.id_low is not None and record["_id"] < cq.id_low:
        return False
    if cq.id_high is not None and record["_id"] > cq.id_high:
        return False
    return cq.predicate is None or cq.predicate(record)


def error_code(text: str, **kwargs) -> str:
    with pytest.raises(KintoneError) as info:
        compiled(text, **kwargs)
    return info.value.code


# -- tokenizer / parser ------------------------------------------------------------------------


def test_tokenizer_splits_operators_literals_and_words():
    kinds = [(t.kind, t.text) for t in tokenize('qty>=10 and title != "a\\"b"')]
    assert kinds == [
        ("WORD", "qty"),
        ("OP", ">="),
        ("NUM", "10"),
        ("WORD", "and"),
        ("WORD", "title"),
        ("OP", "!="),
        ("STR", 'a"b'),
    ]


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (r'"a\\b"', "a\\b"),
        (r'"tab\there"', "tab\there"),
        (r'"nl\nx"', "nl\nx"),
        ('"日本語"', "日本語"),
    ],
)
def test_string_escapes(literal: str, expected: str):
    assert tokenize(literal)[0].text == expected


@pytest.mark.parametrize("raw", ['"a\tb"', '"a\nb"', '"a\rb"', '"open', "qty ! 1"])
def test_raw_control_characters_and_broken_literals_are_syntax_errors(raw: str):
    with pytest.raises(KintoneError) as info:
        tokenize(raw)
    assert info.value.code == "CB_VA01"
    assert list(info.value.errors) == ["query"]


def test_full_width_space_newline_and_tab_separate_tokens():
    assert [t.text for t in tokenize("qty\u3000>\t1\r\n")] == ["qty", ">", "1"]


def test_clause_order_is_fixed():
    parsed = parse("qty > 1 order by qty asc, $id desc limit 10 offset 5")
    assert parsed.order == [("qty", False), ("$id", True)]
    assert (parsed.limit, parsed.offset) == (10, 5)
    assert error_code("qty > 1 limit 10 order by qty asc") == "CB_VA01"
    assert error_code("qty > 1 offset 1 limit 10") == "CB_VA01"


def test_options_without_condition_and_empty_query():
    assert parse("limit 500").limit == 500
    assert parse("order by $id asc").order == [("$id", False)]
    assert parse("").condition is None
    assert compiled("").predicate is None


def test_sort_key_without_direction_is_descending():
    assert parse("order by qty").order == [("qty", True)]


def test_keywords_are_case_insensitive():
    assert matches('qty > 1 AND title IN ("a") OR qty = 100', {"qty": "5", "title": "a"})
    assert parse("qty > 1 ORDER BY qty ASC LIMIT 3").limit == 3


@pytest.mark.parametrize(
    "text",
    [
        "qty >",
        "qty 1",
        "(qty > 1",
        "qty > 1)",
        "qty in ()",
        "qty in 1",
        "title like abc",
        "memo is full",
        "qty > 1 and",
        "limit -1",
        "limit 1.5",
        "qty > 1 garbage",
    ],
)
def test_syntax_errors_are_cb_va01_on_query(text: str):
    assert error_code(text) == "CB_VA01"


# -- compile errors --------------------------------------------------------------------------------


def test_unknown_field_is_iq11_also_in_order_by():
    assert error_code("nope = 1") == "GAIA_IQ11"
    assert error_code("order by nope asc") == "GAIA_IQ11"


@pytest.mark.parametrize(
    "text",
    [
        'tags = "a"',
        'kind = "A"',
        "title > 1",
        'memo = "x"',
        'qty like "1"',
        'due in ("2026-01-01")',
        "title is empty",
        'owner = "alice"',
        'items in ("a")',
    ],
)
def test_operator_not_allowed_for_type_is_iq03(text: str):
    assert error_code(text) == "GAIA_IQ03"


def test_equality_on_table_cell_is_iq07():
    assert error_code('item = "a"') == "GAIA_IQ07"
    assert error_code("n != 1") == "GAIA_IQ07"


def test_limit_and_offset_caps():
    assert error_code("limit 501") == "GAIA_QU01"
    assert error_code("offset 10001") == "GAIA_QU02"
    assert compiled("limit 500 offset 10000").limit == 500


def test_cursor_queries_refuse_limit_and_offset():
    assert error_code("qty > 1 limit 5", allow_limit=False) == "CB_VA01"
    assert error_code("offset 5", allow_limit=False) == "CB_VA01"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("due = THIS_MONTH(32)", "GAIA_IQ23"),
        ("due = THIS_MONTH(0)", "GAIA_IQ23"),
        ("due = LAST_MONTH(FIRST)", "GAIA_IQ23"),
        ("due = FROM_TODAY(1, HOURS)", "GAIA_IQ25"),
        ("due = FROM_TODAY(1)", "GAIA_IL08"),
        ("due = TODAY(1)", "GAIA_IL08"),
        ("due = THIS_YEAR(1)", "GAIA_IL08"),
        ("due = THIS_WEEK(MONDAY, TUESDAY)", "GAIA_IL08"),
        ("due = THIS_WEEK(FUNDAY)", "CB_VA01"),
        ("due = NO_SUCH()", "CB_VA01"),
        ("owner in (TODAY())", "CB_VA01"),
        ("qty = NOW()", "CB_VA01"),
    ],
)
def test_function_argument_errors(text: str, code: str):
    assert error_code(text) == code


def test_non_sortable_fields_are_rejected():
    assert error_code("order by tags asc") == "CB_VA01"
    assert error_code("order by n asc") == "CB_VA01"


def test_invalid_literal_for_number_is_syntax_error():
    assert error_code('qty > "abc"') == "CB_VA01"
    assert error_code('due = "2026-13-01"') == "CB_VA01"
    assert error_code('at > "25:00"') == "CB_VA01"


# -- numeric ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qty = 10", True),
        ('qty = "10"', True),
        ("qty = 10.0", True),
        ("qty != 10", False),
        ("qty > 9.5", True),
        ("qty >= 10", True),
        ("qty < 10", False),
        ("qty <= 10", True),
        ("qty in (1, 10)", True),
        ("qty not in (1, 10)", False),
        ("qty > -1e3", True),
    ],
)
def test_number_comparisons(text: str, expected: bool):
    assert matches(text, {"qty": "10"}) is expected


def test_empty_number_matches_only_not_equal_and_in_empty():
    assert matches("qty != 1", {"qty": ""}) is True
    for text in ("qty = 0", "qty < 1", "qty <= 1", "qty > -1", "qty >= 0", "qty in (1)"):
        assert matches(text, {"qty": ""}) is False, text
    assert matches('qty in ("")', {"qty": ""}) is True
    assert matches('qty not in ("")', {"qty": ""}) is False
    assert matches("qty not in (1)", {"qty": ""}) is True


def test_large_numbers_compare_exactly():
    assert matches("qty > 123456789012345678901234567", {"qty": "123456789012345678901234568"})
    assert not matches("qty > 123456789012345678901234568", {"qty": "123456789012345678901234568"})


def test_id_conditions_become_bisect_bounds():
    cq = compiled("$id > 10 and $id <= 20 and qty > 1")
    assert (cq.id_low, cq.id_high) == (11, 20)
    assert cq.predicate({"_id": 15, "qty": "2"}) is True
    assert compiled("$id >= 2.5").id_low == 3
    assert compiled("$id < 2.5").id_high == 2
    assert compiled("$id = 7").id_low == 7 and compiled("$id = 7").id_high == 7
    assert compiled("$id = 7.5").impossible
    assert compiled("$id > 5 and $id < 3").impossible
    assert compiled("レコード番号 > 4").id_low == 5


def test_id_bounds_are_not_taken_from_or_branches():
    cq = compiled("$id > 10 or qty = 1")
    assert cq.id_low is None
    assert cq.predicate({"_id": 3, "qty": "1"}) is True
    assert cq.predicate({"_id": 3, "qty": "2"}) is False


# -- text ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('title = "Hello"', "Hello", True),
        ('title = "hello"', "Hello", False),
        ('title != "x"', "Hello", True),
        ('title in ("a", "Hello")', "Hello", True),
        ('title not in ("a", "Hello")', "Hello", False),
        ('title in ("")', "", True),
        ('title = ""', "", True),
        ('title like "world"', "hello world", True),
        ('title like "WORLD"', "hello world", True),
        ('title like "wor"', "hello world", False),
        ('title like "key"', "gamma keyword", False),
        ('title like "keyword"', "gamma keyword", True),
        ('title not like "keyword"', "gamma keyword", False),
        ('title like "hello world"', "world, hello!", True),
        ('title like "東京"', "東京都港区", True),
        ('title like "京"', "東京都港区", False),
        ('title like ""', "anything", True),
    ],
)
def test_text_operators_and_word_search(text: str, value: str, expected: bool):
    assert matches(text, {"title": value}) is expected


def test_word_search_directly():
    search = word_search("mail example")
    assert search("Send mail to example.com")
    assert not search("mailbox example")


@pytest.mark.parametrize(
    ("value", "empty"),
    [("", True), ("   ", True), ("\n\t", True), ("\u3000", True), ("x", False), (" x ", False)],
)
def test_is_empty_treats_whitespace_as_empty(value: str, empty: bool):
    assert matches("memo is empty", {"memo": value}) is empty
    assert matches("memo is not empty", {"memo": value}) is not empty


def test_file_like_and_is_empty():
    record = {"files": [{"name": "invoice report.pdf"}]}
    assert matches('files like "invoice"', record)
    assert not matches('files like "receipt"', record)
    assert matches("files is empty", {"files": []})
    assert matches("files is not empty", record)


# -- choices and users -----------------------------------------------------------------------------------


def test_check_box_membership():
    record = {"tags": ["a", "b"]}
    assert matches('tags in ("b", "z")', record)
    assert not matches('tags in ("z")', record)
    assert matches('tags not in ("z")', record)
    assert not matches('tags not in ("a")', record)
    assert matches('tags in ("")', {"tags": []})
    assert not matches('tags in ("")', record)
    assert matches('tags not in ("a")', {"tags": []})


def test_drop_down_null_is_empty_and_status_equality():
    assert matches('kind in ("")', {"kind": None})
    assert matches('kind in ("A")', {"kind": "A"})
    assert matches('kind not in ("A")', {"kind": None})
    assert matches('status = "Done"', {"status": "Done"})
    assert matches('status != "Done"', {"status": "Open"})
    assert matches('status in ("Open", "Done")', {"status": "Open"})


def test_user_fields_and_loginuser():
    record = {
        "owner": [{"code": "alice", "name": "Alice"}],
        "creator": {"code": "bob", "name": "Bob"},
    }
    assert matches("owner in (LOGINUSER())", record)
    assert matches('owner in ("alice")', record)
    assert not matches('owner not in ("alice")', record)
    assert matches('creator in ("bob")', record)
    assert not matches("creator in (LOGINUSER())", record)
    assert matches('owner in ("")', {"owner": []})


def test_primary_organization_without_one_ignores_the_condition():
    assert matches("org in (PRIMARY_ORGANIZATION()) and qty = 1", {"qty": "1"})
    assert not matches("org in (PRIMARY_ORGANIZATION()) and qty = 2", {"qty": "1"})
    assert matches('org in (PRIMARY_ORGANIZATION(), "sales")', {"org": [{"code": "sales"}]})
    assert compiled("org in (PRIMARY_ORGANIZATION())").predicate is None


# -- dates and times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day", "expected"),
    [
        ("due = TODAY()", "2026-04-22", True),
        ("due = YESTERDAY()", "2026-04-21", True),
        ("due = TOMORROW()", "2026-04-23", True),
        ("due = FROM_TODAY(5, DAYS)", "2026-04-27", True),
        ("due = FROM_TODAY(-2, WEEKS)", "2026-04-08", True),
        ("due = FROM_TODAY(1, MONTHS)", "2026-05-22", True),
        ("due = FROM_TODAY(-1, YEARS)", "2025-04-22", True),
        ("due = THIS_WEEK()", "2026-04-19", True),  # Sunday starts the week
        ("due = THIS_WEEK()", "2026-04-25", True),  # Saturday ends it
        ("due = THIS_WEEK()", "2026-04-26", False),
        ("due = THIS_WEEK(MONDAY)", "2026-04-20", True),
        ("due = LAST_WEEK(FRIDAY)", "2026-04-17", True),
        ("due = NEXT_WEEK(SUNDAY)", "2026-04-26", True),
        ("due = NEXT_WEEK()", "2026-05-02", True),
        ("due = THIS_MONTH()", "2026-04-01", True),
        ("due = THIS_MONTH()", "2026-04-30", True),
        ("due = THIS_MONTH(15)", "2026-04-15", True),
        ("due = THIS_MONTH(LAST)", "2026-04-30", True),
        ("due = THIS_MONTH(31)", "2026-05-01", True),  # April has no 31st
        ("due = LAST_MONTH(LAST)", "2026-03-31", True),
        ("due = LAST_MONTH()", "2026-03-15", True),
        ("due = NEXT_MONTH(1)", "2026-05-01", True),
        ("due = THIS_YEAR()", "2026-12-31", True),
        ("due = LAST_YEAR()", "2025-06-01", True),
        ("due = NEXT_YEAR()", "2027-01-01", True),
        ("due > THIS_MONTH()", "2026-05-01", True),
        ("due > THIS_MONTH()", "2026-04-30", False),
        ("due >= THIS_MONTH()", "2026-04-01", True),
        ("due < THIS_MONTH()", "2026-03-31", True),
        ("due <= THIS_MONTH()", "2026-04-30", True),
        ("due != TODAY()", "2026-04-22", False),
        ('due = "2026-04-22"', "2026-04-22", True),
        ('due < "2026-04-22"', "2026-04-21", True),
        ("due = NOW()", "2026-04-22", True),
    ],
)
def test_date_functions_in_tokyo(text: str, day: str, expected: bool):
    assert matches(text, {"due": day}) is expected


def test_today_follows_the_user_time_zone():
    # 2026-04-22T20:00Z is already the 23rd in Tokyo.
    env = QueryEnv(now=datetime(2026, 4, 22, 20, 0, tzinfo=UTC), tz=USER_TZ)
    cq = compile_query("due = TODAY()", resolve, env)
    assert cq.predicate({"due": "2026-04-23"})
    assert not cq.predicate({"due": "2026-04-22"})


def test_empty_date_matches_only_not_equal():
    assert matches("due != TODAY()", {"due": None})
    assert not matches("due < TODAY()", {"due": None})
    assert not matches("due = TODAY()", {"due": None})


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("when = TODAY()", "2026-04-21T15:00:00Z", True),  # 00:00 on the 22nd in Tokyo
        ("when = TODAY()", "2026-04-21T14:59:00Z", False),
        ("when = TODAY()", "2026-04-22T14:59:00Z", True),
        ("when > TODAY()", "2026-04-22T15:00:00Z", True),
        ("when < TODAY()", "2026-04-21T14:59:00Z", True),
        ("when = NOW()", "2026-04-22T01:00:00Z", True),
        ("when > NOW()", "2026-04-22T01:01:00Z", True),
        ("when > NOW()", "2026-04-22T01:00:00Z", False),
        ("when <= NOW()", "2026-04-22T01:00:00Z", True),
        ('when = "2026-04-22T10:00:00+09:00"', "2026-04-22T01:00:00Z", True),
        ('when > "2026-04-22T01:00:00Z"', "2026-04-22T01:01:00Z", True),
        ('when = "2026-04-22"', "2026-04-21T16:00:00Z", True),
        ('when >= "2026-04-22T10:00"', "2026-04-22T01:00:00Z", True),  # no offset = Tokyo
        ("when = THIS_MONTH()", "2026-03-31T15:00:00Z", True),
        ("when != NOW()", "", True),
        ("when > FROM_TODAY(-1, DAYS)", "", False),
    ],
)
def test_datetime_comparisons(text: str, value: str, expected: bool):
    assert matches(text, {"when": value}) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('at = "09:30"', True),
        ('at > "09:00"', True),
        ('at < "9:30"', False),
        ('at <= "09:30:59"', True),
    ],
)
def test_time_comparisons(text: str, expected: bool):
    assert matches(text, {"at": "09:30"}) is expected


# -- boolean structure -------------------------------------------------------------------------------------


def test_and_binds_tighter_than_or_and_parentheses_group():
    record = {"qty": "1", "title": "x"}
    assert matches('qty = 1 or qty = 2 and title = "nope"', record)
    assert not matches('(qty = 1 or qty = 2) and title = "nope"', record)
    assert matches('((qty = 1) and (title = "x"))', record)


# -- subtables ---------------------------------------------------------------------------------------------


ROWS = {"rows": [{"item": "apple", "n": "2"}, {"item": "pear", "n": "9"}]}


def test_positive_table_predicates_match_any_row():
    assert matches('item in ("pear")', ROWS)
    assert matches("n > 5", ROWS)
    assert not matches("n > 10", ROWS)
    assert matches('item like "apple"', ROWS)


def test_negative_table_predicates_need_every_row():
    assert matches('item not in ("kiwi")', ROWS)
    assert not matches('item not in ("apple")', ROWS)


def test_positive_predicates_on_one_table_joined_by_and_hold_in_the_same_row():
    assert not matches('item in ("apple") and n > 5', ROWS)
    assert matches('item in ("pear") and n > 5', ROWS)
    # `or` does not require the same row.
    assert matches('item in ("apple") or n > 5', ROWS)


def test_empty_table_matches_neither_positive_nor_negative():
    assert not matches('item in ("apple")', {"rows": []})
    assert not matches('item not in ("apple")', {"rows": []})


# -- sorting -----------------------------------------------------------------------------------------------


def test_sort_records_by_several_keys_with_empty_first():
    records = [
        {"_id": 1, "qty": "10", "title": "b"},
        {"_id": 2, "qty": "9", "title": "a"},
        {"_id": 3, "qty": "", "title": "a"},
        {"_id": 4, "qty": "10", "title": "a"},
    ]
    sort_records(records, compiled("order by title asc, qty desc").order)
    assert [r["_id"] for r in records] == [4, 2, 3, 1]
    sort_records(records, compiled("order by qty asc").order)
    assert [r["_id"] for r in records] == [3, 2, 4, 1]


def test_id_direction_reports_plain_id_orders():
    assert compiled("").id_direction() == "desc"
    assert compiled("order by $id asc").id_direction() == "asc"
    assert compiled("order by レコード番号 desc").id_direction() == "desc"
    assert compiled("order by qty asc").id_direction() is None
