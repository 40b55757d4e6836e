"""CSV import files for 配配メール: quoting, encodings, part splitting (pure, no I/O)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.integrations.haihai_csv import (
    MAX_PART_BYTES,
    CsvEncodeError,
    CsvEncoding,
    CsvPartWriter,
    CsvRowTooLargeError,
    split_csv_parts,
)
from portal.messages.haihai import csv_message

HEADERS = ["メールアドレス", "お名前", "備考"]


def read_rows(part_bytes: bytes, encoding: str = "utf-8") -> list[list[str]]:
    """Parse one part with the standard csv module (newline='' keeps embedded newlines)."""
    return list(csv.reader(io.StringIO(part_bytes.decode(encoding), newline="")))


def test_single_part_has_header_crlf_and_every_field_quoted():
    writer = CsvPartWriter(HEADERS)
    assert writer.add_row(["taro@example.jp", "山田 太郎", None]) is None
    part = writer.finish()
    assert part is not None
    assert part.data == (
        '"メールアドレス","お名前","備考"\r\n"taro@example.jp","山田 太郎",""\r\n'.encode()
    )
    assert (part.index, part.first_row, part.last_row, part.row_count) == (1, 1, 1, 1)
    assert part.encoding is CsvEncoding.UTF8
    assert part.size == len(part.data)


def test_minimal_quoting_quotes_only_fields_that_need_it():
    writer = CsvPartWriter(["a", "b", "c", "d"], quote_all=False)
    writer.add_row(["plain", "with,comma", 'say "hi"', "two\nlines"])
    part = writer.finish()
    assert part.data == b'a,b,c,d\r\nplain,"with,comma","say ""hi""","two\nlines"\r\n'
    assert read_rows(part.data)[1] == ["plain", "with,comma", 'say "hi"', "two\nlines"]


def test_commas_quotes_and_newlines_round_trip():
    values = ['a,"b"', "line1\r\nline2", "", '"', ",", "\n"]
    writer = CsvPartWriter([f"h{i}" for i in range(len(values))])
    writer.add_row(values)
    assert read_rows(writer.finish().data)[1] == values


def test_finish_without_rows_returns_none_so_nothing_is_imported():
    writer = CsvPartWriter(HEADERS)
    assert writer.finish() is None
    assert list(split_csv_parts(HEADERS, [])) == []


def test_shift_jis_encodes_windows_31j_characters():
    writer = CsvPartWriter(["メールアドレス", "会社名"], "shift_jis")
    writer.add_row(["a@example.jp", "㈱サンプル①～"])
    part = writer.finish()
    assert part.encoding is CsvEncoding.SHIFT_JIS
    assert read_rows(part.data, "cp932")[1] == ["a@example.jp", "㈱サンプル①～"]


def test_unencodable_character_is_reported_with_row_and_column_and_row_is_not_written():
    writer = CsvPartWriter(HEADERS, CsvEncoding.SHIFT_JIS)
    writer.add_row(["a@example.jp", "佐藤", ""])
    with pytest.raises(CsvEncodeError) as caught:
        writer.add_row(["b@example.jp", "𠮷田", ""])
    error = caught.value
    assert (error.row, error.column, error.column_index, error.char) == (2, "お名前", 2, "𠮷")
    assert "2件目" in csv_message(error) and "「お名前」" in csv_message(error)
    assert "𠮷" in csv_message(error) and "Shift_JIS" in csv_message(error)
    writer.add_row(["c@example.jp", "鈴木", ""])
    part = writer.finish()
    rows = read_rows(part.data, "cp932")
    assert [row[0] for row in rows[1:]] == ["a@example.jp", "c@example.jp"]
    # Positions count the refused row too, so they match the caller's input.
    assert (part.first_row, part.last_row, part.row_count) == (1, 3, 2)
    assert writer.rows_written == 2


def test_unencodable_header_is_reported_as_such():
    with pytest.raises(CsvEncodeError) as caught:
        CsvPartWriter(["メールアドレス", "𠮷"], "shift_jis")
    assert caught.value.row == 0
    assert csv_message(caught.value).startswith("項目名「𠮷」に")


def test_emoji_in_shift_jis_is_an_error_never_a_replacement():
    with pytest.raises(CsvEncodeError) as caught:
        list(split_csv_parts(HEADERS, [["x@example.jp", "ok", "楽しい😀"]], encoding="sjis"))
    assert caught.value.column == "備考"
    assert caught.value.char == "😀"


@pytest.mark.parametrize("char", ["〜", "−", "¢", "£", "¬", "‖"])
def test_shift_jis_lookalikes_are_refused_rather_than_silently_changed(char):
    writer = CsvPartWriter(["メールアドレス", "営業時間"], "shift_jis")
    with pytest.raises(CsvEncodeError) as caught:
        writer.add_row(["a@example.jp", f"10:00{char}18:00"])
    assert (caught.value.row, caught.value.column, caught.value.char) == (1, "営業時間", char)
    assert writer.finish() is None


def test_lookalike_substitution_is_an_explicit_choice():
    writer = CsvPartWriter(["メールアドレス", "営業時間"], "shift_jis", substitute_lookalikes=True)
    writer.add_row(["a@example.jp", "10:00〜18:00 −5℃"])
    rows = read_rows(writer.finish().data, "cp932")
    assert rows[1] == ["a@example.jp", "10:00～18:00 －5℃"]
    # UTF-8 carries the original characters unchanged.
    utf8 = CsvPartWriter(["メールアドレス", "営業時間"])
    utf8.add_row(["a@example.jp", "10:00〜18:00 −5℃"])
    assert read_rows(utf8.finish().data)[1][1] == "10:00〜18:00 −5℃"


def test_euc_jp_yen_sign_is_refused():
    with pytest.raises(CsvEncodeError) as caught:
        list(
            split_csv_parts(
                ["メールアドレス", "価格"], [["a@example.jp", "¥100"]], encoding="euc-jp"
            )
        )
    assert caught.value.char == "¥"


def test_split_collects_encode_errors_when_asked_and_keeps_the_other_rows():
    errors: list[CsvEncodeError] = []
    rows = [["a@example.jp", "𠮷", ""], ["b@example.jp", "B", ""], ["c@example.jp", "", "🍣"]]
    parts = list(split_csv_parts(HEADERS, rows, encoding="shift_jis", encode_errors=errors))
    assert [(e.row, e.column) for e in errors] == [(1, "お名前"), (3, "備考")]
    assert len(parts) == 1
    assert read_rows(parts[0].data, "cp932")[1:] == [["b@example.jp", "B", ""]]


def test_utf8_bom_is_optional_and_only_for_utf8():
    writer = CsvPartWriter(HEADERS, bom=True)
    writer.add_row(["a@example.jp", "", ""])
    assert writer.finish().data.startswith(b"\xef\xbb\xbf")
    with pytest.raises(ValueError):
        CsvPartWriter(HEADERS, "shift_jis", bom=True)


def test_header_repeated_in_every_part_and_parts_stay_under_the_limit():
    rows = [[f"user{i}@example.jp", "名前" * (i % 7), "x"] for i in range(200)]
    parts = list(split_csv_parts(HEADERS, rows, max_bytes=600))
    assert len(parts) > 3
    header = read_rows(parts[0].data)[0]
    seen: list[list[str]] = []
    for number, part in enumerate(parts, start=1):
        assert part.index == number
        assert part.size <= 600
        parsed = read_rows(part.data)
        assert parsed[0] == header == HEADERS
        assert len(parsed) - 1 == part.row_count
        seen.extend(parsed[1:])
    assert seen == rows
    assert [p.first_row for p in parts][0] == 1
    assert all(a.last_row + 1 == b.first_row for a, b in zip(parts, parts[1:], strict=False))


def test_part_exactly_at_the_limit_is_allowed():
    writer = CsvPartWriter(["h"], max_bytes=len(b'"h"\r\n"abc"\r\n'))
    assert writer.add_row(["abc"]) is None
    assert writer.add_row(["abc"]).row_count == 1
    assert writer.finish().size == writer.max_bytes


def test_row_larger_than_a_part_is_refused():
    writer = CsvPartWriter(["h"], max_bytes=20)
    with pytest.raises(CsvRowTooLargeError) as caught:
        writer.add_row(["x" * 50])
    assert caught.value.row == 1 and caught.value.max_bytes == 20
    assert csv_message(caught.value).startswith("1件目のデータが大きすぎるため")
    with pytest.raises(CsvRowTooLargeError):
        CsvPartWriter(["a-very-long-header-name"], max_bytes=10)


def test_default_limit_is_15_mb():
    assert MAX_PART_BYTES == 15 * 1024 * 1024
    assert CsvPartWriter(HEADERS).max_bytes == MAX_PART_BYTES


def test_bad_rows_and_headers_are_programming_errors():
    writer = CsvPartWriter(HEADERS)
    with pytest.raises(ValueError, match="3 headers"):
        writer.add_row(["only-one"])
    with pytest.raises(TypeError):
        writer.add_row(["a@example.jp", 12, None])
    with pytest.raises(ValueError):
        CsvPartWriter(["a", "a"])
    with pytest.raises(ValueError):
        CsvPartWriter([])
    with pytest.raises(ValueError):
        CsvPartWriter(HEADERS, "latin-1")


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("UTF-8", CsvEncoding.UTF8),
        ("utf8", CsvEncoding.UTF8),
        ("Shift_JIS", CsvEncoding.SHIFT_JIS),
        ("cp932", CsvEncoding.SHIFT_JIS),
        ("EUC-JP", CsvEncoding.EUC_JP),
    ],
)
def test_encoding_spellings(spelling, expected):
    assert CsvEncoding.parse(spelling) is expected


cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
) | st.sampled_from(["", ",", '"', "\r\n", "\n", "\r", 'a,"b"\nc', "配配メール"])


def _row_size(row: list[str], quote_all: bool = True, encoding: str = "utf-8") -> int:
    def quoted(value: str) -> str:
        if quote_all or any(mark in value for mark in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return len((",".join(quoted(v) for v in row) + "\r\n").encode(encoding))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), max_size=60),
    max_bytes=st.integers(min_value=400, max_value=3000),
    quote_all=st.booleans(),
)
def test_property_parts_bounded_rows_round_trip_none_lost_or_duplicated(rows, max_bytes, quote_all):
    header_size = _row_size(HEADERS, quote_all)
    fitting = [row for row in rows if header_size + _row_size(row, quote_all) <= max_bytes]
    parts = list(split_csv_parts(HEADERS, fitting, max_bytes=max_bytes, quote_all=quote_all))
    recovered: list[list[str]] = []
    for part in parts:
        assert part.size <= max_bytes
        parsed = read_rows(part.data)
        assert parsed[0] == HEADERS
        assert len(parsed) - 1 == part.row_count >= 1
        recovered.extend(parsed[1:])
    assert recovered == fitting
    assert sum(p.row_count for p in parts) == len(fitting)
    # A split only happens when the next row really would not fit.
    for part, following in zip(parts, parts[1:], strict=False):
        next_row = fitting[following.first_row - 1]
        assert part.size + _row_size(next_row, quote_all) > max_bytes


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(cell, min_size=2, max_size=2), min_size=1, max_size=40))
def test_property_shift_jis_never_drops_or_replaces_characters(rows):
    errors: list[CsvEncodeError] = []
    parts = list(
        split_csv_parts(
            ["a", "b"], rows, encoding="shift_jis", encode_errors=errors, max_bytes=10**6
        )
    )
    written = [row for part in parts for row in read_rows(part.data, "cp932")[1:]]
    refused = {error.row for error in errors}
    assert len(refused) == len(errors)
    expected = [row for index, row in enumerate(rows, start=1) if index not in refused]
    assert written == expected
    for error in errors:
        bad_value = rows[error.row - 1][error.column_index - 1]
        assert error.char in bad_value
        assert error.column == ["a", "b"][error.column_index - 1]
        assert _unencodable(error.char)
    for index in refused:
        assert any(_unencodable(value) for value in rows[index - 1])


def _unencodable(value: str) -> bool:
    try:
        return value.encode("cp932").decode("cp932") != value
    except UnicodeEncodeError:
        return True
