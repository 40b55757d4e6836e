"""The plugin's condition check: pure conditions pass, options and injections are refused.

The product check is written independently of the kintone sandbox's parser; the cross-check at
the end feeds both the same token soup and expects them to agree on what is a pure condition.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.syncs.kintone_query import (
    MSG_OPTIONS,
    ConditionRejected,
    check_condition,
)
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.query import BoolNode, Predicate
from sandbox.kintone.query import parse as sandbox_parse

ACCEPTED = [
    ("", ""),
    ("   ", ""),
    ('業種 in ("製造業")', '業種 in ("製造業")'),
    ('業種 in ("製造業") and 従業員数 >= 50', None),
    ('(業種 in ("製造業", "小売業") or 従業員数 >= "50") and email like "example"', None),
    ('氏名 = "a \\"quoted\\" name"', None),
    ("作成日時 >= FROM_TODAY(-7, DAYS) and 更新日時 < TODAY()", None),
    ("日付 = THIS_MONTH(LAST)", None),
    ("日付 >= LAST_WEEK(MONDAY)", None),
    ("メモ is empty", None),
    ("メモ is not empty", None),
    ('タグ not in ("")', None),
    ('件名 not like "お知らせ"', None),
    ("$id > 10 AND $id <= 20", None),
    ("\u3000数値 = 1\u3000", "数値 = 1"),
    ('order = "x"', None),  # a field called "order" is not an order-by clause
    ("limit = 5", None),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_pure_conditions_pass(text, expected):
    checked = check_condition(text)
    assert checked.text == (expected if expected is not None else text.strip())


def test_field_codes_are_reported_in_order():
    checked = check_condition('(a = 1 or b in ("x")) and c is empty')
    assert checked.fields == ("a", "b", "c")


@pytest.mark.parametrize(
    "text",
    [
        "order by $id asc",
        'email = "a" order by $id desc',
        'email = "a" limit 500',
        'email = "a" offset 10',
        "limit 1",
        'email = "a" ORDER BY email',
        'email = "a" Limit 1 offset 2',
    ],
)
def test_query_options_are_refused(text):
    with pytest.raises(ConditionRejected) as raised:
        check_condition(text)
    assert raised.value.message == MSG_OPTIONS


@pytest.mark.parametrize(
    "text",
    [
        'email = "a") or ($id > 0',  # closes the caller's parenthesis
        'email = "a" or',
        'email = "a" "b"',
        'email = "unterminated',
        'email = "raw\ttab"',
        'email = "raw\nnewline"',
        "email ! 1",
        "email == 1",
        "email in 1",
        "email like 1",
        "email is blank",
        "email = UNKNOWN_FUNCTION()",
        "email = TODAY",
        'email = "a" ; delete',
        ")",
        "(",
        'email = "a" and and b = 1',
    ],
)
def test_malformed_conditions_are_refused_with_a_position(text):
    with pytest.raises(ConditionRejected) as raised:
        check_condition(text)
    assert raised.value.message.startswith("kintoneの絞り込み条件を解析できません")


@pytest.mark.parametrize("name", ["LOGINUSER", "PRIMARY_ORGANIZATION", "loginuser"])
def test_user_functions_are_refused(name):
    with pytest.raises(ConditionRejected) as raised:
        check_condition(f"作成者 in ({name}())")
    assert f"{name.upper()}()" in raised.value.message


def test_length_limit_and_type():
    with pytest.raises(ConditionRejected) as raised:
        check_condition('a = "' + "x" * 20 + '"', max_length=10)
    assert "10文字まで" in raised.value.message
    with pytest.raises(ConditionRejected):
        check_condition(["a = 1"])
    assert check_condition(None).text == ""


# --- cross-check with the sandbox's parser ----------------------------------------------------

TOKENS = [
    "a",
    "b",
    "$id",
    "=",
    "!=",
    ">=",
    "<",
    "in",
    "not",
    "like",
    "is",
    "empty",
    "and",
    "or",
    "(",
    ")",
    ",",
    '"x"',
    '"y z"',
    "1",
    "-2",
    "TODAY()",
    "FROM_TODAY(1, DAYS)",
    "order",
    "by",
    "asc",
    "limit",
    "offset",
    "10",
]


def _sandbox_says_pure(text: str) -> bool:
    try:
        parsed = sandbox_parse(text)
    except KintoneError:
        return False
    if parsed.order or parsed.limit is not None or parsed.offset is not None:
        return False
    return parsed.condition is None or _known_functions(parsed.condition)


def _known_functions(node) -> bool:
    if isinstance(node, BoolNode):
        return all(_known_functions(child) for child in node.children)
    assert isinstance(node, Predicate)
    return all(value.kind != "FN" or value.text in {"TODAY", "FROM_TODAY"} for value in node.values)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=9))
def test_agrees_with_the_sandbox_parser(words):
    text = " ".join(words)
    try:
        check_condition(text)
        ours = True
    except ConditionRejected:
        ours = False
    assert ours == _sandbox_says_pure(text), text


@pytest.mark.parametrize(
    "text",
    [
        'a = "x" and b in ("x", 1)',
        '(a = "x" or b != 1) and $id >= 1',
        "a in (TODAY(), FROM_TODAY(1, DAYS))",
        'a not like "x"',
        "a is not empty",
    ],
)
def test_the_cross_check_sees_real_conditions(text):
    # The generator above produces these shapes; make sure both sides accept them.
    assert _sandbox_says_pure(text)
    check_condition(text)
