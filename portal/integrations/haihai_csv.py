"""CSV files for 配配メール bulk imports: RFC 4180 rows, chosen encoding, parts of bounded size.

Pure: nothing here does I/O beyond building bytes. A part always starts with the header row, so
every part is a complete import file on its own (the vendor caps one upload at 15 MB).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

MAX_PART_BYTES = 15 * 1024 * 1024
"""Largest CSV the 配配メール import accepts (manual 付録1.4: 15MB); one MB = 1,048,576 bytes."""

_CRLF = "\r\n"
_NEEDS_QUOTES = (",", '"', "\r", "\n")

# Characters the codecs accept but turn into a different character on the way back (the
# WAVE DASH problem and friends): sending them would silently change the customer's data.
# Found by encoding and decoding every code point with Python's codecs.
_ONE_WAY = {
    "cp932": {"¢": "￠", "£": "￡", "¬": "￢", "‖": "∥", "−": "－", "〜": "～"},
    "euc_jp": {"¥": "\\", "‾": "~"},
    "utf-8": {},
}


class CsvEncoding(enum.Enum):
    """Character sets the import accepts; the value is the Python codec used to encode."""

    UTF8 = "utf-8"
    # "Shift_JIS" in Japanese business software means Microsoft's variant (NEC/IBM extensions,
    # 〜 and ｰ mapping), i.e. Windows-31J; plain shift_jis would refuse ①, ㈱, ～ and friends.
    SHIFT_JIS = "cp932"
    EUC_JP = "euc_jp"

    @classmethod
    def parse(cls, value: CsvEncoding | str) -> CsvEncoding:
        """Accept an enum member or a common spelling ('utf-8', 'shift_jis', 'sjis', 'cp932')."""
        if isinstance(value, CsvEncoding):
            return value
        key = value.strip().lower().replace("-", "_")
        aliases = {
            "utf8": cls.UTF8,
            "utf_8": cls.UTF8,
            "shift_jis": cls.SHIFT_JIS,
            "sjis": cls.SHIFT_JIS,
            "cp932": cls.SHIFT_JIS,
            "windows_31j": cls.SHIFT_JIS,
            "ms932": cls.SHIFT_JIS,
            "euc_jp": cls.EUC_JP,
            "eucjp": cls.EUC_JP,
        }
        try:
            return aliases[key]
        except KeyError:
            raise ValueError(f"unsupported CSV encoding: {value!r}") from None


class CsvEncodeError(ValueError):
    """A cell holds characters the chosen encoding cannot represent; the row was not written."""

    def __init__(self, row: int, column: str, column_index: int, char: str, encoding: CsvEncoding):
        self.row = row
        self.column = column
        self.column_index = column_index
        self.char = char
        self.encoding = encoding
        super().__init__(
            f"row {row}, column {column!r}: character {char!r} (U+{ord(char):04X}) "
            f"cannot be encoded in {encoding.name}"
        )


class CsvRowTooLargeError(ValueError):
    """A single row (with the header) is larger than the part limit, so no part can hold it."""

    def __init__(self, row: int, size: int, max_bytes: int):
        self.row = row
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(
            f"row {row} needs {size} bytes with the header, more than the {max_bytes}-byte limit"
        )


@dataclass(frozen=True, slots=True)
class CsvPart:
    """One complete CSV file: the header plus `row_count` data rows.

    `first_row` / `last_row` are the 1-based input positions (as counted by the writer, refused
    rows included) of the first and last row in this part.
    """

    index: int
    data: bytes
    first_row: int
    last_row: int
    row_count: int
    encoding: CsvEncoding

    @property
    def size(self) -> int:
        """Size of the file in bytes."""
        return len(self.data)


def _quote(value: str, quote_all: bool) -> str:
    if quote_all or any(mark in value for mark in _NEEDS_QUOTES):
        return '"' + value.replace('"', '""') + '"'
    return value


def _encodable(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


class CsvPartWriter:
    """Builds import files row by row, closing a part before it would exceed `max_bytes`.

    `add_row` returns the finished part when the new row did not fit into the current one (the
    row then opens the next part); `finish` returns the last part. A row that cannot be encoded
    raises CsvEncodeError and leaves the writer unchanged, so a caller may record it and go on.
    Characters a codec would silently turn into look-alikes (Shift_JIS: 〜 ¢ £ ¬ ‖ −) count as
    unencodable unless `substitute_lookalikes` asks for the look-alike (〜 → ～) explicitly.
    """

    def __init__(
        self,
        headers: Sequence[str],
        encoding: CsvEncoding | str = CsvEncoding.UTF8,
        max_bytes: int = MAX_PART_BYTES,
        *,
        quote_all: bool = True,
        bom: bool = False,
        substitute_lookalikes: bool = False,
    ):
        if not headers:
            raise ValueError("a CSV needs at least one header")
        if len(set(headers)) != len(headers):
            raise ValueError(f"duplicate CSV headers: {list(headers)}")
        self.headers = tuple(headers)
        self.encoding = CsvEncoding.parse(encoding)
        if bom and self.encoding is not CsvEncoding.UTF8:
            raise ValueError("a byte order mark only exists for UTF-8")
        self.max_bytes = max_bytes
        self.quote_all = quote_all
        one_way = _ONE_WAY[self.encoding.value]
        # Opt-in: write the codec's look-alike (e.g. 〜 → ～) instead of refusing the row.
        self._substitutions = str.maketrans(one_way) if substitute_lookalikes else None
        self._one_way = frozenset(one_way) if not substitute_lookalikes else frozenset()
        prefix = b"\xef\xbb\xbf" if bom else b""
        # Row number 0 stands for the header in error reports.
        self._header = prefix + self._encode_row(self.headers, row=0)
        if len(self._header) > max_bytes:
            raise CsvRowTooLargeError(0, len(self._header), max_bytes)
        self._chunks: list[bytes] = []
        self._size = len(self._header)
        self._rows_offered = 0
        self._rows_written = 0
        self._part_first_row = 0
        self._part_last_row = 0
        self._parts_done = 0

    @property
    def rows_written(self) -> int:
        """Data rows accepted so far (rows refused with an error are not counted)."""
        return self._rows_written

    def _encode_row(self, values: Sequence[str], row: int) -> bytes:
        if self._substitutions is not None:
            values = [value.translate(self._substitutions) for value in values]
        line = ",".join(_quote(value, self.quote_all) for value in values) + _CRLF
        if not self._one_way or self._one_way.isdisjoint(line):
            try:
                return line.encode(self.encoding.value)
            except UnicodeEncodeError:
                pass
        # Encoding the whole line is the fast path; only on failure look for the culprit cell.
        for index, value in enumerate(values):
            for char in value:
                if char in self._one_way or not _encodable(char, self.encoding.value):
                    column = self.headers[index] if row else value
                    raise CsvEncodeError(row, column, index + 1, char, self.encoding)
        raise AssertionError("unencodable line without an unencodable cell")  # pragma: no cover

    def add_row(self, values: Sequence[str | None]) -> CsvPart | None:
        """Append one customer row (None = blank); return a part that had to be closed, if any."""
        if len(values) != len(self.headers):
            raise ValueError(
                f"row has {len(values)} values but the CSV has {len(self.headers)} headers"
            )
        cells: list[str] = []
        for value in values:
            if value is None:
                cells.append("")
            elif isinstance(value, str):
                cells.append(value)
            else:
                raise TypeError(f"CSV values must be str or None, not {type(value).__name__}")
        # Every call gets a position, refused rows included, so errors point at the caller's row.
        self._rows_offered += 1
        row = self._rows_offered
        encoded = self._encode_row(cells, row=row)
        if len(self._header) + len(encoded) > self.max_bytes:
            raise CsvRowTooLargeError(row, len(self._header) + len(encoded), self.max_bytes)
        finished = None
        if self._chunks and self._size + len(encoded) > self.max_bytes:
            finished = self._close_part()
        if not self._chunks:
            self._part_first_row = row
        self._chunks.append(encoded)
        self._size += len(encoded)
        self._part_last_row = row
        self._rows_written += 1
        return finished

    def _close_part(self) -> CsvPart:
        self._parts_done += 1
        part = CsvPart(
            index=self._parts_done,
            data=b"".join([self._header, *self._chunks]),
            first_row=self._part_first_row,
            last_row=self._part_last_row,
            row_count=len(self._chunks),
            encoding=self.encoding,
        )
        self._chunks = []
        self._size = len(self._header)
        return part

    def finish(self) -> CsvPart | None:
        """Close and return the last part; None when it holds no rows (nothing to import)."""
        if not self._chunks:
            return None
        return self._close_part()


def split_csv_parts(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    *,
    encoding: CsvEncoding | str = CsvEncoding.UTF8,
    max_bytes: int = MAX_PART_BYTES,
    quote_all: bool = True,
    bom: bool = False,
    substitute_lookalikes: bool = False,
    encode_errors: list[CsvEncodeError] | None = None,
) -> Iterator[CsvPart]:
    """Yield the parts for `rows`; unencodable rows raise, or go to `encode_errors` when given."""
    writer = CsvPartWriter(
        headers,
        encoding,
        max_bytes,
        quote_all=quote_all,
        bom=bom,
        substitute_lookalikes=substitute_lookalikes,
    )
    for values in rows:
        try:
            part = writer.add_row(values)
        except CsvEncodeError as error:
            if encode_errors is None:
                raise
            encode_errors.append(error)
            continue
        if part is not None:
            yield part
    last = writer.finish()
    if last is not None:
        yield last
