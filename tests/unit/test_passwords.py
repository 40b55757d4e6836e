"""The password policy of manual §2.1.2 (and its beyond rules) and argon2id hashing."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.auth.passwords import (
    ALLOWED_CHARACTERS,
    MISMATCH_MESSAGE,
    POLICY_MESSAGE,
    SAME_AS_CONNECTOR_ID_MESSAGE,
    SAME_AS_PREVIOUS_MESSAGE,
    PasswordProblem,
    character_classes,
    generate_password,
    hash_password,
    needs_rehash,
    problem_messages,
    validate_password,
    verify_password,
)

CLASSES = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "!@#$%^&*"]
MANUAL_SENTENCE = (
    "パスワードが要件を満たしていません。パスワードは8文字以上、かつ英小文字・英大文字・数字・"
    "記号(!@#$%^&*)のいずれかの文字を使用してください。"
)

allowed_text = st.text(alphabet=sorted(ALLOWED_CHARACTERS), max_size=40)


def _reference_problems(password: str) -> set[PasswordProblem]:
    """The policy written out independently of the implementation."""
    problems = set()
    if len(password) < 8:
        problems.add(PasswordProblem.TOO_SHORT)
    if any(c not in "".join(CLASSES) for c in password):
        problems.add(PasswordProblem.FORBIDDEN_CHARACTERS)
    if sum(any(c in group for c in password) for group in CLASSES) < 3:
        problems.add(PasswordProblem.TOO_FEW_CLASSES)
    return problems


@given(st.text(max_size=40))
def test_any_text_gets_exactly_the_reference_problems(password):
    assert set(validate_password(password, "")) == _reference_problems(password)


@given(allowed_text)
def test_allowed_characters_only_fail_on_length_or_classes(password):
    problems = set(validate_password(password, ""))
    assert PasswordProblem.FORBIDDEN_CHARACTERS not in problems
    assert (PasswordProblem.TOO_SHORT in problems) == (len(password) < 8)
    assert (PasswordProblem.TOO_FEW_CLASSES in problems) == (character_classes(password) < 3)


@st.composite
def valid_passwords(draw):
    """Passwords of 8+ allowed characters from three or four classes."""
    chosen = draw(st.lists(st.sampled_from(CLASSES), min_size=3, max_size=4, unique=True))
    required = [draw(st.sampled_from(group)) for group in chosen]
    pool = "".join(chosen)
    extra = draw(st.text(alphabet=pool, min_size=max(0, 8 - len(required)), max_size=30))
    chars = draw(st.permutations(required + list(extra)))
    return "".join(chars)


@given(valid_passwords())
def test_long_passwords_of_three_classes_are_accepted(password):
    assert validate_password(password, "HC0001") == []


@given(valid_passwords(), st.sampled_from(sorted(set(" _-+=?.'\"あア漢\t\n€é~`|/\\:;,<>()[]{}"))))
def test_one_forbidden_character_is_enough_to_refuse(password, bad):
    problems = validate_password(password + bad, "HC0001")
    assert problems == [PasswordProblem.FORBIDDEN_CHARACTERS]
    assert problem_messages(problems) == [MANUAL_SENTENCE]


@given(st.sampled_from(CLASSES), st.sampled_from(CLASSES), st.integers(8, 24))
def test_two_classes_are_not_enough_however_long(first, second, length):
    pool = first + second
    password = "".join(pool[i % len(pool)] for i in range(length))
    assert PasswordProblem.TOO_FEW_CLASSES in validate_password(password, "")


@given(valid_passwords())
def test_seven_characters_are_too_short(password):
    short = password[:7]
    assert PasswordProblem.TOO_SHORT in validate_password(short, "")


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Abcdef1!", []),
        ("abcdef12", [PasswordProblem.TOO_FEW_CLASSES]),
        ("Abcdefg1", []),
        ("Abc1!", [PasswordProblem.TOO_SHORT]),
        ("Abcdef1 ", [PasswordProblem.FORBIDDEN_CHARACTERS]),
        ("Ａbcdef1!", [PasswordProblem.FORBIDDEN_CHARACTERS]),  # full-width letter
        ("", [PasswordProblem.TOO_SHORT, PasswordProblem.TOO_FEW_CLASSES]),
    ],
)
def test_examples(password, expected):
    assert validate_password(password, "HC0001") == expected


def test_the_three_policy_rules_share_the_manuals_sentence():
    assert POLICY_MESSAGE == MANUAL_SENTENCE
    problems = validate_password("ab あ", "")
    assert len(problems) == 3
    assert problem_messages(problems) == [MANUAL_SENTENCE]


def test_the_connector_id_itself_is_refused_with_its_own_message():
    problems = validate_password("Haihai#2024", "haihai#2024")
    assert problems == [PasswordProblem.SAME_AS_CONNECTOR_ID]
    assert problem_messages(problems) == [SAME_AS_CONNECTOR_ID_MESSAGE]
    assert validate_password("Haihai#2024x", "Haihai#2024") == []


def test_a_previous_password_is_refused_with_its_own_message():
    previous = hash_password("Old#Pass2023")
    assert validate_password("Old#Pass2023", "HC1", previous) == [PasswordProblem.SAME_AS_PREVIOUS]
    assert validate_password("Old#Pass2023", "HC1", [None, previous]) == [
        PasswordProblem.SAME_AS_PREVIOUS
    ]
    assert validate_password("New#Pass2024", "HC1", previous) == []
    assert problem_messages([PasswordProblem.SAME_AS_PREVIOUS]) == [SAME_AS_PREVIOUS_MESSAGE]
    assert problem_messages([PasswordProblem.MISMATCH]) == [MISMATCH_MESSAGE]


def test_hashes_are_argon2id_salted_and_verifiable():
    first = hash_password("Abcdef1!")
    second = hash_password("Abcdef1!")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "Abcdef1!")
    assert not verify_password(first, "Abcdef1?")
    assert not verify_password("not-a-hash", "Abcdef1!")
    assert not needs_rehash(first)
    assert needs_rehash("not-a-hash")


@settings(max_examples=200)
@given(st.integers(8, 40))
def test_generated_passwords_meet_the_policy(length):
    password = generate_password(length)
    assert len(password) == length
    assert validate_password(password, "HC0001") == []
    assert character_classes(password) == 4


def test_generated_passwords_differ_and_short_lengths_are_refused():
    assert len({generate_password() for _ in range(50)}) == 50
    with pytest.raises(ValueError):
        generate_password(7)
