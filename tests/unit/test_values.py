"""kintone values → 配配メール cells (付録1.1), per type, and whole rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.connector_types.haihai_kintone.customer.values import (
    MAPPABLE_TYPES,
    RowConverter,
    UnsupportedFieldTypeError,
    clean_choice_label,
    convert_value,
    email_key,
    rich_text_to_plain,
)
from portal.syncs.config import FieldMapping


@pytest.mark.parametrize("field_type", ["DATETIME", "CREATED_TIME", "UPDATED_TIME"])
def test_datetimes_become_the_local_day(field_type):
    # The manual's example: 2022-12-31 12:34 (JST) → 2022-12-31.
    assert convert_value(field_type, "2022-12-31T03:34:00Z") == "2022-12-31"
    # 15:34 UTC is already the next day in Japan.
    assert convert_value(field_type, "2022-12-31T15:34:00Z") == "2023-01-01"
    assert convert_value(field_type, "2022-12-31T15:34:00Z", "UTC") == "2022-12-31"
    assert convert_value(field_type, "2023-01-01T03:00:00Z", "America/Los_Angeles") == "2022-12-31"
    assert convert_value(field_type, "") == ""
    assert convert_value(field_type, None) == ""


def test_date_passes_through():
    assert convert_value("DATE", "2024-02-29") == "2024-02-29"
    assert convert_value("DATE", None) == ""


@pytest.mark.parametrize("field_type", ["CHECK_BOX", "MULTI_SELECT"])
def test_multi_choices_are_cleaned_and_joined_with_commas(field_type):
    assert convert_value(field_type, ["関東", "関西"]) == "関東,関西"
    assert convert_value(field_type, ["男性, {}"]) == "男性"
    assert convert_value(field_type, ["A B", "{x}"]) == "AB,x"
    assert convert_value(field_type, []) == ""
    assert convert_value(field_type, [" ,"]) == ""  # nothing left of the label


@pytest.mark.parametrize("field_type", ["DROP_DOWN", "RADIO_BUTTON", "STATUS"])
def test_single_choices_are_cleaned(field_type):
    assert convert_value(field_type, "男性") == "男性"
    assert convert_value(field_type, "男性, {}") == "男性"
    assert convert_value(field_type, "") == ""
    assert convert_value(field_type, None) == ""


def test_full_width_space_is_kept_in_choices():
    # Only half-width spaces are refused by 配配メール options.
    assert clean_choice_label("営業\u3000部 A") == "営業\u3000部A"


@given(st.text())
def test_cleaned_labels_never_contain_forbidden_characters(label):
    cleaned = clean_choice_label(label)
    assert not set(cleaned) & set(",{} ")
    assert len(cleaned) <= len(label)


@pytest.mark.parametrize("field_type", ["USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"])
def test_entity_selections_become_names(field_type):
    value = [{"code": "sato", "name": "佐藤 花子"}, {"code": "ito", "name": "伊藤"}]
    assert convert_value(field_type, value) == "佐藤花子,伊藤"
    assert convert_value(field_type, []) == ""


@pytest.mark.parametrize("field_type", ["CREATOR", "MODIFIER"])
def test_creator_and_modifier_become_the_name_as_text(field_type):
    assert convert_value(field_type, {"code": "sato", "name": "佐藤 花子"}) == "佐藤 花子"
    assert convert_value(field_type, None) == ""


def test_assignees_become_names_as_text():
    value = [{"code": "a", "name": "佐藤 花子"}, {"code": "b", "name": "伊藤"}]
    assert convert_value("STATUS_ASSIGNEE", value) == "佐藤 花子,伊藤"


@pytest.mark.parametrize("field_type", ["NUMBER", "CALC", "RECORD_NUMBER"])
def test_numbers_are_sent_as_text(field_type):
    assert convert_value(field_type, "1234.50") == "1234.50"
    assert convert_value(field_type, "-3") == "-3"
    assert convert_value(field_type, "") == ""


@pytest.mark.parametrize("field_type", ["SINGLE_LINE_TEXT", "LINK", "MULTI_LINE_TEXT"])
def test_text_is_sent_as_is(field_type):
    assert convert_value(field_type, " 山田, {太郎} ") == " 山田, {太郎} "
    assert convert_value(field_type, None) == ""


def test_multi_line_text_keeps_newlines():
    assert convert_value("MULTI_LINE_TEXT", "一行目\n二行目") == "一行目\n二行目"


def test_rich_text_becomes_plain_text():
    assert rich_text_to_plain("<p>A&amp;B</p><div>次<br>行</div>") == "A&B\n次\n行"
    assert convert_value("RICH_TEXT", "<b>太字</b>") == "太字"


@pytest.mark.parametrize("field_type", ["FILE", "SUBTABLE", "REFERENCE_TABLE", "UNKNOWN"])
def test_unsendable_types_are_refused(field_type):
    with pytest.raises(UnsupportedFieldTypeError):
        convert_value(field_type, "x")


def test_every_type_of_the_manual_table_converts():
    assert len(MAPPABLE_TYPES) == 21
    for field_type in MAPPABLE_TYPES:
        assert convert_value(field_type, None) == ""


def test_email_key_lowers_only_the_domain():
    assert email_key(" Taro@Example.JP ") == "Taro@example.jp"
    assert email_key("no-at-sign") == "no-at-sign"


def _mapping(code, ftype, item, email=False):
    return FieldMapping(code, ftype, code, item, is_email=email)


def test_row_converter_puts_the_email_first_under_its_display_name():
    converter = RowConverter(
        [
            _mapping("name", "SINGLE_LINE_TEXT", "お名前"),
            _mapping("mail", "LINK", "メールアドレス", email=True),
            _mapping("area", "CHECK_BOX", "地域"),
            _mapping("created", "CREATED_TIME", "登録日"),
        ],
        email_header="E-mail",
    )
    assert converter.headers == ("E-mail", "お名前", "地域", "登録日")
    assert converter.codes == ("mail", "name", "area", "created")
    record = {
        "mail": {"type": "LINK", "value": " taro@example.jp "},
        "name": {"type": "SINGLE_LINE_TEXT", "value": "山田 太郎"},
        "area": {"type": "CHECK_BOX", "value": ["関東", "関西"]},
        "created": {"type": "CREATED_TIME", "value": "2024-03-31T15:00:00Z"},
        "$id": {"type": "__ID__", "value": "7"},
    }
    assert converter.row(record) == ["taro@example.jp", "山田 太郎", "関東,関西", "2024-04-01"]


def test_row_converter_gives_blank_cells_for_missing_fields():
    converter = RowConverter(
        [
            _mapping("mail", "SINGLE_LINE_TEXT", "メールアドレス", True),
            _mapping("n", "NUMBER", "数"),
        ]
    )
    assert converter.row({"mail": {"value": "a@b.jp"}}) == ["a@b.jp", ""]


def test_row_converter_needs_exactly_one_email_mapping_and_names_bad_fields():
    with pytest.raises(ValueError):
        RowConverter([_mapping("n", "NUMBER", "数")])
    with pytest.raises(UnsupportedFieldTypeError, match="添付"):
        RowConverter(
            [
                _mapping("mail", "SINGLE_LINE_TEXT", "メールアドレス", True),
                FieldMapping("f", "FILE", "添付", "添付"),
            ]
        )
