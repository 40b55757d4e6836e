"""kintone field-definition diffing and the mappable-type helpers (pure, no I/O)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.syncs.kintone_schema import (
    MAPPABLE_TYPE_CODES,
    MAPPABLE_TYPES,
    ChangeKind,
    diff_fields,
    flatten_fields,
    is_mappable,
    mappable_fields,
    option_names,
    recommended_haihai_type,
    type_label,
)


def options(*names: str) -> dict:
    return {name: {"label": name, "index": str(i)} for i, name in enumerate(names)}


BASE = {
    "email": {
        "type": "SINGLE_LINE_TEXT",
        "code": "email",
        "label": "メールアドレス",
        "required": True,
        "unique": True,
        "defaultValue": "",
    },
    "qty": {
        "type": "NUMBER",
        "code": "qty",
        "label": "数量",
        "required": False,
        "unique": False,
        "defaultValue": "0",
    },
    "pref": {
        "type": "DROP_DOWN",
        "code": "pref",
        "label": "都道府県",
        "required": False,
        "defaultValue": "",
        "options": options("東京都", "埼玉県", "大阪府"),
    },
    "tags": {
        "type": "CHECK_BOX",
        "code": "tags",
        "label": "タグ",
        "required": False,
        "defaultValue": ["a", "b"],
        "options": options("a", "b", "c"),
    },
    "owner": {
        "type": "USER_SELECT",
        "code": "owner",
        "label": "担当者",
        "required": False,
        "defaultValue": [{"code": "LOGINUSER()", "type": "FUNCTION"}],
        "entities": [],
    },
    "due": {
        "type": "DATE",
        "code": "due",
        "label": "期限",
        "required": False,
        "unique": False,
        "defaultValue": "",
        "defaultNowValue": False,
    },
    "items": {
        "type": "SUBTABLE",
        "code": "items",
        "label": "明細",
        "fields": {
            "item_name": {
                "type": "SINGLE_LINE_TEXT",
                "code": "item_name",
                "label": "品名",
                "required": False,
                "unique": False,
                "defaultValue": "",
            },
        },
    },
    "rec": {"type": "RECORD_NUMBER", "code": "rec", "label": "レコード番号", "noLabel": False},
}


def changed(**edits) -> dict:
    """A deep copy of BASE with `code={attr: value}` edits applied (None deletes the attr)."""
    new = copy.deepcopy(BASE)
    for code, attrs in edits.items():
        for attr, value in attrs.items():
            if value is None:
                new[code].pop(attr, None)
            else:
                new[code][attr] = value
    return new


def kinds(changes) -> list[tuple[str, ChangeKind]]:
    return [(c.code, c.kind) for c in changes]


def test_identical_definitions_have_no_changes():
    assert diff_fields(BASE, copy.deepcopy(BASE)) == []


def test_added_field_is_reported_as_added_and_not_an_error():
    new = copy.deepcopy(BASE)
    new["memo"] = {"type": "MULTI_LINE_TEXT", "code": "memo", "label": "メモ"}
    (change,) = diff_fields(BASE, new)
    assert (change.code, change.kind) == ("memo", ChangeKind.ADDED)
    assert change.old_label is None and change.new_label == "メモ"
    assert change.field_type == "MULTI_LINE_TEXT"
    assert not change.is_error and not change.is_warning


def test_removed_field_is_an_error_carrying_its_old_label():
    new = copy.deepcopy(BASE)
    del new["qty"]
    (change,) = diff_fields(BASE, new)
    assert change.kind is ChangeKind.REMOVED
    assert change.old_label == "数量" and change.new_label is None
    assert change.label == "数量"
    assert change.is_error


def test_renamed_label_is_only_a_warning():
    (change,) = diff_fields(BASE, changed(email={"label": "Eメール"}))
    assert change.kind is ChangeKind.LABEL_CHANGED
    assert (change.old_label, change.new_label) == ("メールアドレス", "Eメール")
    assert change.is_warning and not change.is_error
    assert change.label == "Eメール"


@pytest.mark.parametrize(
    ("before", "after"),
    [(True, False), (False, True), ("true", "false"), (True, "false")],
)
def test_required_flag_change_is_an_error(before, after):
    old = changed(email={"required": before})
    new = changed(email={"required": after})
    (change,) = diff_fields(old, new)
    assert change.kind is ChangeKind.REQUIRED_CHANGED
    assert change.old_value is not change.new_value
    assert change.is_error


def test_required_spelled_as_string_or_bool_is_the_same():
    assert diff_fields(changed(email={"required": "true"}), BASE) == []


def test_unique_change_is_an_error_both_ways():
    assert kinds(diff_fields(BASE, changed(email={"unique": False}))) == [
        ("email", ChangeKind.UNIQUE_CHANGED)
    ]
    assert kinds(diff_fields(BASE, changed(qty={"unique": True}))) == [
        ("qty", ChangeKind.UNIQUE_CHANGED)
    ]


def test_unique_on_a_type_that_cannot_be_unique_is_ignored():
    # kintone drops `unique` on types outside the five that support it.
    assert diff_fields(BASE, changed(pref={"unique": True})) == []


def test_missing_unique_key_counts_as_false():
    assert diff_fields(BASE, changed(qty={"unique": None})) == []


@pytest.mark.parametrize(
    ("code", "value"),
    [("qty", "1"), ("email", "x@example.com"), ("pref", "東京都"), ("tags", ["a"])],
)
def test_changed_default_is_an_error(code, value):
    (change,) = diff_fields(BASE, changed(**{code: {"defaultValue": value}}))
    assert change.kind is ChangeKind.DEFAULT_CHANGED
    assert change.is_error


def test_default_now_flag_counts_as_a_default_change():
    (change,) = diff_fields(BASE, changed(due={"defaultNowValue": True}))
    assert change.kind is ChangeKind.DEFAULT_CHANGED
    assert change.old_value == (None, False) and change.new_value == (None, True)


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_defaults_are_all_the_same(empty):
    assert diff_fields(BASE, changed(email={"defaultValue": empty})) == []


def test_reordered_checkbox_default_is_not_a_change():
    assert diff_fields(BASE, changed(tags={"defaultValue": ["b", "a"]})) == []


def test_user_select_default_change_is_detected():
    new = changed(owner={"defaultValue": [{"code": "alice", "type": "USER"}]})
    assert kinds(diff_fields(BASE, new)) == [("owner", ChangeKind.DEFAULT_CHANGED)]


def test_number_default_given_as_int_equals_string():
    assert diff_fields(BASE, changed(qty={"defaultValue": 0})) == []


def test_removed_option_is_an_error_naming_the_option():
    (change,) = diff_fields(BASE, changed(pref={"options": options("東京都", "大阪府")}))
    assert change.kind is ChangeKind.OPTIONS_REMOVED
    assert change.options == ("埼玉県",)
    assert change.is_error


def test_added_option_is_reported_but_harmless():
    new = changed(pref={"options": options("東京都", "埼玉県", "大阪府", "北海道")})
    (change,) = diff_fields(BASE, new)
    assert change.kind is ChangeKind.OPTIONS_ADDED
    assert change.options == ("北海道",)
    assert not change.is_error


def test_renamed_option_is_one_removal_and_one_addition():
    new = changed(tags={"options": options("a", "b", "d")})
    changes = diff_fields(BASE, new)
    assert [(c.kind, c.options) for c in changes] == [
        (ChangeKind.OPTIONS_REMOVED, ("c",)),
        (ChangeKind.OPTIONS_ADDED, ("d",)),
    ]


def test_reordered_options_are_not_a_change():
    new = changed(pref={"options": options("大阪府", "東京都", "埼玉県")})
    assert diff_fields(BASE, new) == []


def test_type_change_under_the_same_code_hides_other_attribute_changes():
    new = changed(qty={"type": "SINGLE_LINE_TEXT", "label": "数量(文字)", "required": True})
    (change,) = diff_fields(BASE, new)
    assert change.kind is ChangeKind.TYPE_CHANGED
    assert (change.old_value, change.new_value) == ("NUMBER", "SINGLE_LINE_TEXT")
    assert change.is_error


def test_several_changes_on_one_field_are_all_listed_in_fixed_order():
    new = changed(
        email={"label": "Eメール", "required": False, "unique": False, "defaultValue": "a@b"}
    )
    assert kinds(diff_fields(BASE, new)) == [
        ("email", ChangeKind.LABEL_CHANGED),
        ("email", ChangeKind.REQUIRED_CHANGED),
        ("email", ChangeKind.UNIQUE_CHANGED),
        ("email", ChangeKind.DEFAULT_CHANGED),
    ]


def test_subtable_cells_are_compared_and_carry_their_table():
    new = copy.deepcopy(BASE)
    new["items"]["fields"]["item_name"]["label"] = "商品名"
    new["items"]["fields"]["price"] = {"type": "NUMBER", "code": "price", "label": "単価"}
    changes = diff_fields(BASE, new)
    assert [(c.code, c.kind, c.table) for c in changes] == [
        ("item_name", ChangeKind.LABEL_CHANGED, "items"),
        ("price", ChangeKind.ADDED, "items"),
    ]


def test_removed_subtable_reports_the_table_and_its_cells():
    new = copy.deepcopy(BASE)
    del new["items"]
    assert kinds(diff_fields(BASE, new)) == [
        ("items", ChangeKind.REMOVED),
        ("item_name", ChangeKind.REMOVED),
    ]


def test_field_moved_into_a_subtable_keeps_its_code_and_is_not_removed():
    new = copy.deepcopy(BASE)
    cell = new.pop("qty")
    new["items"]["fields"]["qty"] = cell
    assert diff_fields(BASE, new) == []


def test_flatten_fields_yields_cells_after_their_table():
    flat = [(code, table) for code, _, table in flatten_fields(BASE)]
    assert flat.index(("items", None)) + 1 == flat.index(("item_name", "items"))


# -- hypothesis ------------------------------------------------------------------------------

labels = st.text(alphabet="あいうえおabcXYZ01 ", min_size=1, max_size=6)
option_sets = st.lists(st.sampled_from(["A", "B", "C", "D", "E"]), unique=True, max_size=5)


@st.composite
def field_defs(draw):
    field_type = draw(st.sampled_from(["SINGLE_LINE_TEXT", "NUMBER", "DROP_DOWN", "CHECK_BOX"]))
    prop = {
        "type": field_type,
        "label": draw(labels),
        "required": draw(st.booleans()),
        "unique": draw(st.booleans()),
        "defaultValue": draw(st.sampled_from(["", "1", "A"])),
    }
    if field_type in ("DROP_DOWN", "CHECK_BOX"):
        prop["options"] = options(*draw(option_sets))
        if field_type == "CHECK_BOX":
            prop["defaultValue"] = draw(st.lists(st.sampled_from(["A", "B"]), unique=True))
    return prop


schemas = st.dictionaries(st.sampled_from(["f1", "f2", "f3", "f4", "f5"]), field_defs())


@given(schemas)
def test_a_schema_never_differs_from_itself(schema):
    assert diff_fields(schema, copy.deepcopy(schema)) == []


@given(schemas, schemas)
def test_added_and_removed_codes_match_the_key_sets(old, new):
    changes = diff_fields(old, new)
    added = {c.code for c in changes if c.kind is ChangeKind.ADDED}
    removed = {c.code for c in changes if c.kind is ChangeKind.REMOVED}
    assert added == set(new) - set(old)
    assert removed == set(old) - set(new)


@given(schemas, schemas)
def test_diff_is_symmetric_in_kind(old, new):
    """Swapping old and new swaps ADDED/REMOVED and OPTIONS_ADDED/REMOVED, keeps the rest."""
    swap = {
        ChangeKind.ADDED: ChangeKind.REMOVED,
        ChangeKind.REMOVED: ChangeKind.ADDED,
        ChangeKind.OPTIONS_ADDED: ChangeKind.OPTIONS_REMOVED,
        ChangeKind.OPTIONS_REMOVED: ChangeKind.OPTIONS_ADDED,
    }
    forward = sorted((c.code, swap.get(c.kind, c.kind), c.options) for c in diff_fields(old, new))
    backward = sorted((c.code, c.kind, c.options) for c in diff_fields(new, old))
    assert forward == backward


@given(option_sets, option_sets)
def test_option_changes_are_exactly_the_set_differences(before, after):
    old = {"f": {"type": "RADIO_BUTTON", "label": "x", "options": options(*before)}}
    new = {"f": {"type": "RADIO_BUTTON", "label": "x", "options": options(*after)}}
    by_kind = {c.kind: set(c.options) for c in diff_fields(old, new)}
    assert by_kind.get(ChangeKind.OPTIONS_REMOVED, set()) == set(before) - set(after)
    assert by_kind.get(ChangeKind.OPTIONS_ADDED, set()) == set(after) - set(before)


@given(schemas, schemas)
def test_every_change_of_an_existing_field_carries_both_labels(old, new):
    for change in diff_fields(old, new):
        if change.kind not in (ChangeKind.ADDED, ChangeKind.REMOVED):
            assert change.old_label == old[change.code]["label"]
            assert change.new_label == new[change.code]["label"]


# -- mappable types --------------------------------------------------------------------------


def test_mappable_types_follow_the_manual_table():
    assert len(MAPPABLE_TYPES) == 21
    assert [t.manual_label for t in MAPPABLE_TYPES][:4] == [
        "チェックボックス",
        "複数選択",
        "ドロップダウン",
        "ラジオボタン",
    ]
    assert {"FILE", "RICH_TEXT", "TIME", "SUBTABLE"}.isdisjoint(MAPPABLE_TYPE_CODES)


@pytest.mark.parametrize(
    ("field_type", "label"),
    [
        ("SINGLE_LINE_TEXT", "文字列 (1行)"),
        ("MULTI_LINE_TEXT", "文字列 (複数行)"),
        ("NUMBER", "数値"),
        ("CALC", "計算"),
        ("USER_SELECT", "ユーザー選択"),
        ("ORGANIZATION_SELECT", "組織選択"),
        ("STATUS_ASSIGNEE", "作業者"),
        ("FILE", "添付ファイル"),
        ("RICH_TEXT", "リッチエディター"),
        ("SOMETHING_NEW", "SOMETHING_NEW"),
    ],
)
def test_type_label_names_types_as_kintone_does(field_type, label):
    assert type_label(field_type) == label


@pytest.mark.parametrize(
    ("field_type", "recommended"),
    [
        ("MULTI_SELECT", "セレクトボックス(複数選択)"),
        ("DATETIME", "日付"),
        ("NUMBER", "数値(整数) or 数値(小数)"),
        ("STATUS", "ラジオボタン"),
        ("MODIFIER", "テキストボックス"),
        ("FILE", None),
    ],
)
def test_recommended_haihai_type_comes_from_the_manual(field_type, recommended):
    assert recommended_haihai_type(field_type) == recommended


def test_process_fields_are_mappable_only_when_process_management_is_on():
    assert not is_mappable({"type": "STATUS", "enabled": False})
    assert is_mappable({"type": "STATUS", "enabled": True})
    assert not is_mappable({"type": "STATUS_ASSIGNEE", "enabled": "false"})
    assert not is_mappable({"type": "FILE"})


def test_mappable_fields_lists_top_level_fields_in_app_order():
    rows = mappable_fields(BASE)
    assert [r["code"] for r in rows] == ["email", "qty", "pref", "tags", "owner", "due", "rec"]
    assert rows[-1] == {
        "code": "rec",
        "label": "レコード番号",
        "type": "RECORD_NUMBER",
        "type_label": "レコード番号",
    }
    assert "item_name" not in {r["code"] for r in rows}


def test_option_names_follow_the_index_not_the_key_order():
    prop = {
        "options": {
            "b": {"label": "b", "index": "1"},
            "a": {"label": "a", "index": "2"},
            "c": {"label": "c", "index": "0"},
        }
    }
    assert option_names(prop) == ["c", "b", "a"]
    assert option_names({}) == []
