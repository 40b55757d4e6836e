"""Pure parts of configuration export/import: field values ⇄ document data ⇄ YAML, and the
inverses of the page's form parsers (schedule editor, Step4 rows) that `form_fields` relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.connectors_cli import dump_yaml, load_yaml
from portal.runs.schedule_form import (
    VARIANT_INTERVALS,
    editor_form_fields,
    editor_values,
    parse_schedule_form,
)
from portal.settings.mapping import MappingRow, rows_from_form, rows_to_form
from portal.settings.sections import Section, fields_from_values
from portal.settings.transfer import (
    MSG_ENCRYPTED_NOT_SECRET,
    MSG_FIELD_VALUE,
    TransferError,
    data_to_values,
    fields_to_data,
    value_to_data,
)
from portal.syncs.config import MONTH_END, ScheduleSpec

# Text a form field may carry: anything but surrogates and control characters other than \n.
field_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85") | st.just("\n"),
    max_size=30,
)


def posted_again(fields: MultiDict) -> MultiDict:
    """`fields` exported as YAML and read back as the import posts them."""
    document = {"settings": {"s": fields_to_data(fields, (), with_secrets=False)}}
    loaded = load_yaml(dump_yaml(document, {"s": "Step"}))
    errors: list[TransferError] = []
    pairs = [
        (name, value)
        for name, data in loaded["settings"]["s"].items()
        for value in data_to_values(data, name, secret=False, errors=errors)
    ]
    assert errors == []
    return MultiDict(pairs)


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b-1", "c_d"]), field_text), max_size=8))
def test_any_posted_text_survives_yaml_unchanged(pairs):
    fields = MultiDict(pairs)
    again = posted_again(fields)
    assert {k: fields.getlist(k) for k in fields} == {k: again.getlist(k) for k in again}


def test_yaml_keeps_dates_numbers_and_words_as_the_text_posted():
    fields = MultiDict(
        [("d", "2024-06-01"), ("n", "007"), ("y", "yes"), ("o", "off"), ("z", "null"), ("e", "")]
    )
    assert posted_again(fields) == fields
    # Written by hand, unquoted: dates stay text, numbers become their text, true a checked box.
    loaded = load_yaml("s:\n  d: 2024-06-01\n  n: 7\n  b: true\n  f: false\n  x:\n")["s"]
    errors: list[TransferError] = []
    assert {k: data_to_values(v, k, secret=False, errors=errors) for k, v in loaded.items()} == {
        "d": ["2024-06-01"],
        "n": ["7"],
        "b": ["1"],
        "f": [],
        "x": [],
    }
    assert errors == []


def test_compact_json_objects_become_data_and_other_json_stays_text():
    compact = '{"match":"any","conditions":[{"field_code":"rank","value":["A"]}]}'
    assert value_to_data(compact) == {
        "match": "any",
        "conditions": [{"field_code": "rank", "value": ["A"]}],
    }
    assert value_to_data('{"a": 1}') == '{"a": 1}'  # not compact: kept as typed
    assert value_to_data("[1,2]") == "[1,2]"
    assert value_to_data("{broken") == "{broken"
    errors: list[TransferError] = []
    assert data_to_values(value_to_data(compact), "c", secret=False, errors=errors) == [compact]
    assert posted_again(MultiDict([("c", compact), ("t", '{"a": 1}')])) == MultiDict(
        [("c", compact), ("t", '{"a": 1}')]
    )


def test_values_of_the_wrong_shape_are_refused_with_their_path():
    errors: list[TransferError] = []
    assert data_to_values(["a", ["nested"]], "p.x", secret=False, errors=errors) == []
    assert data_to_values({"encrypted": "gAAAA"}, "p.y", secret=False, errors=errors) == []
    assert errors == [
        TransferError("p.x", MSG_FIELD_VALUE),
        TransferError("p.y", MSG_ENCRYPTED_NOT_SECRET),
    ]


def test_secret_fields_are_left_out_without_secrets():
    fields = MultiDict([("token", "s3cret"), ("url", "https://x")])
    assert fields_to_data(fields, ("token",), with_secrets=False) == {"url": "https://x"}


def test_dump_annotates_each_settings_section_with_its_heading():
    text = dump_yaml(
        {"version": 1, "settings": {"step1": {"name": "x"}, "step5": {}}, "synced": {"step1": {}}},
        {"step1": "Step1. 基本", "step5": "Step5. 顧客"},
        "配配メール-kintone 連携",
    )
    assert text.splitlines()[0] == "# Connector configuration (配配メール-kintone 連携)"
    assert "  step1:  # Step1. 基本\n" in text and "  step5: {}  # Step5. 顧客\n" in text
    assert "synced:\n  step1: {}\n" in text  # synced data is not annotated
    assert load_yaml(text)["settings"] == {"step1": {"name": "x"}, "step5": {}}


# --- the default form_fields -------------------------------------------------------------------


def test_plain_stored_values_become_fields_like_a_browser_posts_them():
    values = {
        "name": "連携",
        "count": 3,
        "on": True,
        "off": False,
        "none": None,
        "days": {"2", "0"},
    }
    assert list(fields_from_values("stepX", values).items(multi=True)) == [
        ("name", "連携"),
        ("count", "3"),
        ("on", "1"),
        ("days", "0"),
        ("days", "2"),
    ]


def test_a_section_with_other_values_must_implement_form_fields():
    class RowsSection(Section):
        key = "step8"

        def stored_values(self, ctx):
            return {"rows": [MappingRow("email")]}

    with pytest.raises(NotImplementedError, match="'step8'.*'rows'.*override Section.form_fields"):
        RowsSection().form_fields(None)


# --- inverses of the page's parsers --------------------------------------------------------------


@st.composite
def timings(draw, variant: str):
    timing = draw(st.sampled_from(["off", "manual", "schedule"]))
    if timing != "schedule":
        return timing, None
    interval = draw(st.sampled_from(VARIANT_INTERVALS[variant]))
    hours = tuple(draw(st.sets(st.integers(0, 23), min_size=1, max_size=5)))
    if interval == "every_30_minutes":
        minute = draw(st.integers(0, 29))
        minutes: tuple[int, ...] = (minute, minute + 30)
    else:
        minutes = (draw(st.integers(0, 59)),)
    day = draw(st.sampled_from([*range(1, 32), MONTH_END]))
    weekdays = tuple(draw(st.sets(st.integers(0, 6), min_size=1)))
    spec = ScheduleSpec(
        interval=interval,
        month_days=(day,) if interval == "monthly" else (),
        weekdays=weekdays if interval == "weekly" else (),
        hours=hours if interval in ("monthly", "weekly", "daily") else (),
        minutes=minutes,
    )
    return timing, spec


@pytest.mark.parametrize("variant", sorted(VARIANT_INTERVALS))
@given(data=st.data())
def test_editor_fields_post_back_the_stored_timing_and_schedule(variant, data):
    from portal.runs.schedule_math import normalize_spec

    timing, spec = data.draw(timings(variant))
    fields = MultiDict(editor_form_fields("p", editor_values(timing, spec, variant), variant))
    parsed = parse_schedule_form(fields, "p", variant)
    assert parsed == (timing, normalize_spec(spec) if spec else None)
    assert list(fields)[0] == "p-timing"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
            st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs")), max_size=6),
            st.from_regex(r"(I[0-9]{1,3})?", fullmatch=True),
        ),
        max_size=12,
    )
)
def test_mapping_rows_post_back_as_the_same_rows(rows):
    mapping = [MappingRow(code, item.strip(), item_id) for code, item, item_id in rows]
    assert rows_from_form(MultiDict(rows_to_form(mapping))) == mapping


def test_the_default_refuses_template_values_that_are_not_the_posted_fields():
    class Renamed(Section):
        key = "echo"

        def stored_values(self, ctx):
            return {"timing": "manual", "on": True}

        def posted_values(self, form, ctx):
            return {"timing": form.get("echo-timing", ""), "on": form.get("on") == "1"}

    with pytest.raises(NotImplementedError, match="'echo'.*override Section.form_fields"):
        Renamed().form_fields(None)

    class Plain(Renamed):
        def posted_values(self, form, ctx):
            return {"timing": form.get("timing", ""), "on": form.get("on") == "1"}

    assert Plain().form_fields(None) == MultiDict([("timing", "manual"), ("on", "1")])
