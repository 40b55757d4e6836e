"""Step4 rules as pure functions (portal.settings.mapping)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.settings import messages as msg
from portal.settings.mapping import (
    MappingRow,
    MappingRuleError,
    add_row,
    addable_fields,
    describe_rows,
    effective_email_name,
    remove_row,
    resolve_names,
    rows_from_form,
    validate_rows,
)

FIELDS = {
    "mail": {"type": "SINGLE_LINE_TEXT", "label": "メール"},
    "site": {"type": "LINK", "label": "サイト"},
    "memo": {"type": "MULTI_LINE_TEXT", "label": "メモ"},
    "qty": {"type": "NUMBER", "label": "数量"},
    "kind": {"type": "DROP_DOWN", "label": "種別", "options": {}},
    "file": {"type": "FILE", "label": "添付"},
    "table": {"type": "SUBTABLE", "label": "明細", "fields": {}},
    "status": {"type": "STATUS", "label": "ステータス", "enabled": False},
    "assignee": {"type": "STATUS_ASSIGNEE", "label": "作業者", "enabled": True},
    "rich": {"type": "RICH_TEXT", "label": "本文"},
}
SNAPSHOT = {
    "items": [
        {"id": "E", "label": "Eメール", "type": "email", "is_email": True},
        {"id": "A", "label": "数量", "type": "int", "is_email": False},
        {"id": "B", "label": "種別", "type": "select", "is_email": False},
    ]
}


def test_rows_come_from_the_form_in_index_order_skipping_empty_codes():
    form = MultiDict(
        {
            "mapping-10-kintone": "qty",
            "mapping-10-haihai": "数量",
            "mapping-2-kintone": "mail",
            "mapping-2-haihai": "メール",
            "mapping-2-haihai_id": "E",
            "mapping-5-kintone": "",
            "mapping-x-kintone": "memo",
        }
    )
    assert rows_from_form(form) == [
        MappingRow("mail", "メール", "E"),
        MappingRow("qty", "数量", ""),
    ]


def test_first_choices_are_only_text_and_link_fields():
    assert [f["code"] for f in addable_fields([], FIELDS)] == ["mail", "site"]
    after = [f["code"] for f in addable_fields([MappingRow("mail")], FIELDS)]
    # 付録1.1 types only: FILE, SUBTABLE, RICH_TEXT and disabled process fields are left out.
    assert after == ["site", "memo", "qty", "kind", "assignee"]


def test_add_row_prefills_the_email_item_and_same_label_items():
    rows = add_row([], "mail", FIELDS, method="synced", snapshot=SNAPSHOT)
    assert rows == [MappingRow("mail", "Eメール", "E")]
    rows = add_row(rows, "qty", FIELDS, method="synced", snapshot=SNAPSHOT)
    assert rows[1] == MappingRow("qty", "数量", "A")
    rows = add_row(rows, "memo", FIELDS, method="synced", snapshot=SNAPSHOT)
    assert rows[2] == MappingRow("memo")
    manual = add_row([], "site", FIELDS, method="manual", snapshot={}, email_name="Eメール")
    assert manual == [MappingRow("site", "Eメール")]


@pytest.mark.parametrize(
    ("rows", "code", "message"),
    [
        ([], "", msg.CHOOSE_FIELD_TO_ADD),
        ([], "memo", msg.EMAIL_FIELD_TYPE),
        ([], "nope", msg.KINTONE_FIELD_UNKNOWN.format(name="nope")),
        ([MappingRow("mail")], "file", msg.KINTONE_FIELD_UNKNOWN.format(name="file")),
        ([MappingRow("mail")], "status", msg.KINTONE_FIELD_UNKNOWN.format(name="status")),
        ([MappingRow("mail")], "mail", msg.ONE_KINTONE_TO_MANY),
    ],
)
def test_add_row_refusals(rows, code, message):
    with pytest.raises(MappingRuleError) as raised:
        add_row(rows, code, FIELDS, method="manual", snapshot={})
    assert raised.value.message == message


def test_remove_row_keeps_the_email_row_until_it_is_the_last():
    rows = [MappingRow("mail"), MappingRow("qty"), MappingRow("memo")]
    assert remove_row(rows, 1) == [MappingRow("mail"), MappingRow("memo")]
    assert remove_row(rows, 7) == rows
    with pytest.raises(MappingRuleError, match="他の連携項目を削除"):
        remove_row(rows, 0)
    assert remove_row([MappingRow("mail")], 0) == []


def test_resolve_names_follows_ids_and_matches_typed_names():
    rows = [
        MappingRow("mail", "古い名前", "E"),
        MappingRow("qty", "数量", ""),
        MappingRow("memo", "存在しない", ""),
        MappingRow("kind", "x", "GONE"),
    ]
    assert resolve_names(rows, SNAPSHOT) == [
        MappingRow("mail", "Eメール", "E"),
        MappingRow("qty", "数量", "A"),
        MappingRow("memo", "", ""),
        MappingRow("kind", "", ""),
    ]


def test_manual_email_name_defaults_to_the_product_default():
    assert effective_email_name(False, "Eメール") == "メールアドレス"
    assert effective_email_name(True, "  ") == "メールアドレス"
    assert effective_email_name(True, " Eメール ") == "Eメール"


def test_validate_manual_rows():
    rows = [MappingRow("mail", "メールアドレス"), MappingRow("qty", "数量"), MappingRow("memo", "")]
    errors = validate_rows(rows, method="manual", kintone_fields=FIELDS, snapshot={})
    assert errors == {"mapping-2-haihai": msg.HAIHAI_ITEM_REQUIRED_MANUAL}
    long = [MappingRow("mail", "メールアドレス"), MappingRow("qty", "あ" * 256)]
    assert validate_rows(long, method="manual", kintone_fields=FIELDS, snapshot={}) == {
        "mapping-1-haihai": msg.TEXT_TOO_LONG
    }
    assert validate_rows([], method="manual", kintone_fields=FIELDS, snapshot={}) == {
        "mapping": msg.EMAIL_FIRST
    }


def test_validate_synced_rows_checks_ids_and_the_email_item():
    good = [MappingRow("mail", "", "E"), MappingRow("qty", "", "A")]
    assert validate_rows(good, method="synced", kintone_fields=FIELDS, snapshot=SNAPSHOT) == {}
    swapped = [MappingRow("mail", "", "A"), MappingRow("qty", "", "E")]
    assert validate_rows(swapped, method="synced", kintone_fields=FIELDS, snapshot=SNAPSHOT) == {
        "mapping-0-haihai": msg.EMAIL_ITEM_SYNCED,
        "mapping-1-haihai": msg.NOT_EMAIL_ITEM_SYNCED,
    }


def test_describe_rows_names_the_kintone_type_as_kintone_shows_it():
    described = describe_rows([MappingRow("mail", "Eメール"), MappingRow("gone")], FIELDS)
    assert described[0]["kintone_type_label"] == "文字列 (1行)"
    assert described[0]["is_email"] and not described[1]["is_email"]
    assert described[1]["kintone_label"] == "gone" and described[1]["kintone_type_label"] == ""


CODES = ["mail", "site", "memo", "qty", "kind"]


@given(
    st.lists(
        st.tuples(st.sampled_from(CODES), st.sampled_from(["x", "y", "z", "w", "v"])),
        min_size=1,
        max_size=6,
    )
)
def test_one_to_one_is_enforced_in_both_directions(pairs):
    rows = [MappingRow("mail", "メールアドレス")] + [MappingRow(c, n) for c, n in pairs]
    errors = validate_rows(rows, method="manual", kintone_fields=FIELDS, snapshot={})
    codes = [r.kintone_code for r in rows]
    names = [r.haihai_item for r in rows]
    for index in range(1, len(rows)):
        repeated_code = codes[index] in codes[:index]
        repeated_name = names[index] in names[:index]
        kintone_error = errors.get(f"mapping-{index}-kintone")
        haihai_error = errors.get(f"mapping-{index}-haihai")
        assert (kintone_error == msg.ONE_KINTONE_TO_MANY) == repeated_code
        assert (haihai_error == msg.MANY_KINTONE_TO_ONE) == repeated_name
    if len(set(codes)) == len(codes) and len(set(names)) == len(names):
        assert errors == {}
