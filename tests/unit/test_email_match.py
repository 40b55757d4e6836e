"""Mail-address matching: exact local part, case-insensitive domain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portal.syncs.email_match import email_key, emails_match, index_by_email


def test_domain_case_is_ignored_but_local_part_case_is_not():
    assert emails_match("taro@Example.COM", "taro@example.com")
    assert not emails_match("Taro@example.com", "taro@example.com")


def test_surrounding_whitespace_is_ignored():
    assert email_key("  hanako@example.jp \n") == "hanako@example.jp"


def test_values_that_are_not_addresses_have_no_key():
    for value in (
        None,
        "",
        "no-at-sign",
        "@example.com",
        "taro@",
        "ta ro@example.com",
        42,
        ["a@b"],
    ):
        assert email_key(value) is None
    assert not emails_match(None, None)


def test_the_last_at_sign_separates_the_domain():
    assert email_key('"a@b"@EXAMPLE.com') == '"a@b"@example.com'


def test_index_keeps_the_first_value_per_address():
    index = index_by_email([("a@X.jp", "u1"), ("a@x.JP", "u2"), ("A@x.jp", "u3"), ("bad", "u4")])
    assert index == {"a@x.jp": "u1", "A@x.jp": "u3"}


locals_ = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@"),
    min_size=1,
    max_size=20,
)
domains = st.from_regex(r"[a-zA-Z0-9]{1,10}\.[a-zA-Z]{2,5}", fullmatch=True)


@given(local=locals_, domain=domains)
def test_any_domain_casing_matches(local, domain):
    assert emails_match(f"{local}@{domain.upper()}", f"{local}@{domain.lower()}")


@given(local=locals_.filter(lambda s: s.lower() != s.upper()), domain=domains)
def test_a_different_local_casing_never_matches(local, domain):
    assert not emails_match(f"{local.upper()}@{domain}", f"{local.lower()}@{domain}")
