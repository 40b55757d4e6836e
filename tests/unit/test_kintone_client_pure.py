"""Pure parts of the kintone client: URLs, parameter encoding, query splitting, error parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.integrations.kintone import (
    KintoneAuthError,
    KintoneClient,
    KintoneConflictError,
    KintoneCursorLimitError,
    KintoneError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneValidationError,
    encode_query_params,
    error_class_for,
    kintone_base_url,
    parse_field_errors,
    seek_query,
    split_query,
)


@pytest.mark.parametrize(
    ("template", "subdomain", "expected"),
    [
        ("https://{subdomain}.cybozu.com", "demo", "https://demo.cybozu.com"),
        ("https://{subdomain}.cybozu.com/", "Acme-01", "https://acme-01.cybozu.com"),
        ("http://127.0.0.1:8123/{subdomain}", "demo", "http://127.0.0.1:8123/demo"),
        ("https://{subdomain}.kintone.com", " x1 ", "https://x1.kintone.com"),
    ],
)
def test_base_url_fills_a_valid_subdomain(template, subdomain, expected):
    assert kintone_base_url(template, subdomain) == expected


@pytest.mark.parametrize(
    "subdomain",
    ["", "-demo", "demo-", "de.mo", "evil.com/x", "de mo", "デモ", "a" * 64, "x?y", "a_b"],
)
def test_base_url_rejects_bad_subdomains(subdomain):
    with pytest.raises(ValueError, match="invalid kintone subdomain"):
        kintone_base_url("https://{subdomain}.cybozu.com", subdomain)


def test_base_url_needs_https_except_on_loopback():
    with pytest.raises(ValueError, match="https"):
        kintone_base_url("http://{subdomain}.cybozu.com", "demo")
    with pytest.raises(ValueError, match="exactly once"):
        kintone_base_url("https://cybozu.com", "demo")


def test_client_validates_credentials_and_tokens():
    with pytest.raises(ValueError, match="API tokens or username"):
        KintoneClient("https://demo.cybozu.com")
    with pytest.raises(ValueError, match="at most 9"):
        KintoneClient("https://demo.cybozu.com", api_tokens=[f"t{i}" for i in range(10)])
    with pytest.raises(ValueError, match="comma"):
        KintoneClient("https://demo.cybozu.com", api_tokens=["a,b"])
    with pytest.raises(ValueError, match="go together"):
        KintoneClient("https://demo.cybozu.com", username="u")
    with pytest.raises(ValueError, match="https"):
        KintoneClient("http://demo.cybozu.com", api_tokens=["t"])


def test_client_builds_guest_and_preview_paths():
    with KintoneClient("https://demo.cybozu.com", api_tokens=["t"], guest_space_id=3) as client:
        assert client.api_path("records") == "/k/guest/3/v1/records.json"
        assert client.api_path("app/form/fields", preview=True) == (
            "/k/guest/3/v1/preview/app/form/fields.json"
        )
        assert client.host == "demo.cybozu.com"
    with KintoneClient("http://127.0.0.1:9/demo/", username="u", password="p") as client:
        assert client.api_path("app") == "/k/v1/app.json"
        assert client.host == "127.0.0.1:9/demo"


def test_query_params_use_indexed_brackets_and_lowercase_booleans():
    pairs = encode_query_params(
        {"app": 12, "ids": [100, 101], "totalCount": True, "query": None, "fields": ("a",)}
    )
    assert pairs == [
        ("app", "12"),
        ("ids[0]", "100"),
        ("ids[1]", "101"),
        ("totalCount", "true"),
        ("fields[0]", "a"),
    ]
    with pytest.raises(TypeError):
        encode_query_params({"record": {"a": 1}})


@pytest.mark.parametrize(
    ("query", "condition", "order_by"),
    [
        ("", "", ""),
        ('title = "a"', 'title = "a"', ""),
        ("qty > 1 order by qty desc", "qty > 1", "order by qty desc"),
        ("order by $id asc", "", "order by $id asc"),
        ('title = "x order by y"', 'title = "x order by y"', ""),
        ('title like "limit 5"', 'title like "limit 5"', ""),
        ('a = "\\" order by b" ORDER  BY a asc', 'a = "\\" order by b"', "ORDER  BY a asc"),
    ],
)
def test_split_query_ignores_keywords_inside_literals(query, condition, order_by):
    split = split_query(query)
    assert (split.condition, split.order_by) == (condition, order_by)


@pytest.mark.parametrize("query", ["limit 10", "qty > 1 order by qty asc offset 20"])
def test_split_query_refuses_limit_and_offset(query):
    with pytest.raises(ValueError, match="limit/offset"):
        split_query(query)


def test_seek_query_parenthesises_the_condition():
    assert seek_query("", 0, 500) == "$id > 0 order by $id asc limit 500"
    assert seek_query('a = "1" or b = "2"', 1200, 100) == (
        '($id > 1200) and (a = "1" or b = "2") order by $id asc limit 100'
    )
    assert seek_query("x > 1", 10, 500, before=900, descending=True) == (
        "($id > 10 and $id < 900) and (x > 1) order by $id desc limit 500"
    )


@given(st.text(alphabet='abc "\\', max_size=20))
def test_split_query_never_splits_inside_a_literal(text):
    literal = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + ' order by x"'
    query = f"f = {literal}"
    assert split_query(query).condition == query


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("CB_AU01", 401, KintoneAuthError),
        ("GAIA_IA02", 520, KintoneAuthError),
        ("GAIA_NO01", 403, KintonePermissionError),
        ("CB_VA01", 400, KintoneValidationError),
        ("GAIA_IQ11", 400, KintoneValidationError),
        ("GAIA_QU02", 400, KintoneValidationError),
        ("GAIA_RE01", 404, KintoneNotFoundError),
        ("GAIA_CN01", 404, KintoneNotFoundError),
        ("GAIA_CO02", 409, KintoneConflictError),
        ("GAIA_TO04", 429, KintoneThrottledError),
        ("GAIA_TM12", 429, KintoneCursorLimitError),
        ("GAIA_XX99", 503, KintoneServerError),
        ("GAIA_XX99", 418, KintoneError),
    ],
)
def test_error_class_is_chosen_by_code_before_status(code, status, cls):
    assert error_class_for(code, status) is cls


def test_field_error_keys_are_located():
    errors = {
        "record.title.value": {"messages": ["Required."]},
        "record[qty].value": {"messages": ["Only numbers are allowed."]},
        "records[3].email.value": {"messages": ["This value already exists in another record."]},
        "records[7].record.name.value": {"messages": ["Enter less than 11 characters."]},
        "record.tags.values[0].value": {"messages": ['The value, "zz", is not in options.']},
        "record.items.value[2].value.price.value": {"messages": ["Only numbers are allowed."]},
        "records[2][amount].value": {"messages": ["Only numbers are allowed."]},
        "records": {"messages": ["A maximum of 100 records can be added at one time."]},
        "query": {"messages": ["The query is invalid."]},
    }
    located = {e.key: e for e in parse_field_errors(errors)}
    assert (
        located["record.title.value"].field_code,
        located["record.title.value"].record_index,
    ) == (
        "title",
        None,
    )
    assert located["record[qty].value"].field_code == "qty"
    assert located["records[3].email.value"].record_index == 3
    assert located["records[3].email.value"].field_code == "email"
    assert located["records[7].record.name.value"].field_code == "name"
    assert located["records[7].record.name.value"].record_index == 7
    assert located["record.tags.values[0].value"].field_code == "tags"
    table = located["record.items.value[2].value.price.value"]
    assert (table.field_code, table.subtable_row, table.inner_field_code) == ("items", 2, "price")
    assert located["records[2][amount].value"].record_index == 2
    assert located["records[2][amount].value"].field_code == "amount"
    assert located["records"].field_code is None
    assert located["query"].describe() == 'parameter "query": The query is invalid.'


def test_a_field_named_record_is_not_mistaken_for_the_update_wrapper():
    (err,) = parse_field_errors({"records[0].record.value": {"messages": ["Required."]}})
    assert err.field_code == "record"


def test_error_text_names_code_status_fields_and_request_id():
    error = KintoneValidationError(
        "CB_VA01",
        "Missing or invalid input.",
        {"record.qty.value": {"messages": ["Required."]}},
        "abc123",
        400,
    )
    text = str(error)
    assert text.startswith("[400] CB_VA01: Missing or invalid input.")
    assert 'field "qty": Required.' in text
    assert "request id abc123" in text
    assert error.field_code == "qty"
