"""kintone query language: tokenizer, recursive-descent parser, compiler to predicate + sort.

`compile_query(text, resolve, env)` parses once and returns a `CompiledQuery` whose `predicate`
is a plain Python closure over a stored record (no eval). Field access goes through the
`FieldRef` objects returned by `resolve`, so this module knows nothing about storage.

Semantics chosen where the spec leaves a gap (documented in sandbox/kintone/README.md):
`and` binds tighter than `or`; keywords are case-insensitive; empty values match only `!=`,
`not in` and `in ("")`; `like` is a word search (whole ASCII words, substrings of two or more
characters for other scripts); weeks run Sunday to Saturday; `THIS_MONTH(31)` in a shorter
month is the first day of the next month.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.kintone.errors import coded, query_error

MAX_LIMIT = 500
MAX_OFFSET = 10_000

_WHITESPACE = " \t\r\n\u3000"
_SPECIAL = '()",=!<>'
_ESCAPES = {'"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

NUMERIC_TYPES = frozenset({"NUMBER", "CALC", "RECORD_NUMBER", "__ID__"})
ID_TYPES = frozenset({"RECORD_NUMBER", "__ID__"})
TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "LINK", "MULTI_LINE_TEXT", "RICH_TEXT"})
CHOICE_TYPES = frozenset({"RADIO_BUTTON", "DROP_DOWN", "STATUS"})
MULTI_CHOICE_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT", "CATEGORY"})
ENTITY_LIST_TYPES = frozenset(
    {"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT", "STATUS_ASSIGNEE"}
)
ENTITY_ONE_TYPES = frozenset({"CREATOR", "MODIFIER"})
DATETIME_TYPES = frozenset({"DATETIME", "CREATED_TIME", "UPDATED_TIME"})

_CMP = ("=", "!=", ">", "<", ">=", "<=")
_ORDER = ("=", "!=", ">", "<", ">=", "<=")
OPERATORS: dict[str, frozenset[str]] = {}
for _t in NUMERIC_TYPES:
    OPERATORS[_t] = frozenset((*_CMP, "in", "not in"))
for _t in ("SINGLE_LINE_TEXT", "LINK"):
    OPERATORS[_t] = frozenset({"=", "!=", "in", "not in", "like", "not like"})
for _t in ("MULTI_LINE_TEXT", "RICH_TEXT", "FILE"):
    OPERATORS[_t] = frozenset({"like", "not like", "is empty", "is not empty"})
for _t in MULTI_CHOICE_TYPES | ENTITY_LIST_TYPES | ENTITY_ONE_TYPES | {"RADIO_BUTTON", "DROP_DOWN"}:
    OPERATORS[_t] = frozenset({"in", "not in"})
OPERATORS["STATUS"] = frozenset({"=", "!=", "in", "not in"})
for _t in DATETIME_TYPES | {"DATE", "TIME"}:
    OPERATORS[_t] = frozenset(_CMP)

SORTABLE_TYPES = frozenset(
    NUMERIC_TYPES
    | DATETIME_TYPES
    | {
        "SINGLE_LINE_TEXT",
        "LINK",
        "RADIO_BUTTON",
        "DROP_DOWN",
        "DATE",
        "TIME",
        "STATUS",
        "CREATOR",
        "MODIFIER",
    }
)
_NEGATIVE_OPS = frozenset({"not in", "not like", "is not empty"})
_WEEKDAYS = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
_DATE_FUNCTIONS = frozenset(
    {
        "NOW",
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "FROM_TODAY",
        "THIS_WEEK",
        "LAST_WEEK",
        "NEXT_WEEK",
        "THIS_MONTH",
        "LAST_MONTH",
        "NEXT_MONTH",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
    }
)
_USER_FUNCTIONS = frozenset({"LOGINUSER", "PRIMARY_ORGANIZATION"})
_TAG = re.compile(r"<[^>]*>")
_ASCII_WORD = re.compile(r"[0-9a-z]+")


# -- public data types --------------------------------------------------------------------------


@dataclass
class FieldRef:
    """How the compiler reaches one field of a stored record.

    `get` reads the stored value from a record (top-level field) or from a table row's values
    (inner field, then `rows` returns the row-value dicts of a record). `text` turns a stored
    value into searchable text for `like` (file names and contents, rich text without tags).
    """

    code: str
    type: str
    get: Callable[[Any], Any]
    table: str | None = None
    rows: Callable[[Any], Sequence[Any]] | None = None
    text: Callable[[Any], str] | None = None


@dataclass
class QueryEnv:
    """Evaluation context: the clock instant, the user's zone and who is asking."""

    now: datetime
    tz: tzinfo
    login_user: str = "Administrator"
    primary_organization: str | None = None


@dataclass
class CompiledQuery:
    """A parsed and compiled query, ready to run against stored records."""

    predicate: Callable[[Any], bool] | None = None
    id_low: int | None = None
    id_high: int | None = None
    impossible: bool = False
    order: list[tuple[FieldRef, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    uses_like: bool = False

    def id_direction(self) -> str | None:
        """'asc'/'desc' when the result order is plain record-id order, else None."""
        if not self.order:
            return "desc"
        if len(self.order) == 1 and self.order[0][0].type in ID_TYPES:
            return "desc" if self.order[0][1] else "asc"
        return None


# -- tokenizer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """One lexical token: kind is STR, NUM, WORD, OP, '(', ')' or ','."""

    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raw control characters inside literals are syntax errors."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _WHITESPACE:
            i += 1
            continue
        if char == '"':
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise query_error()
                c = text[j]
                if c == "\\":
                    if j + 1 >= n:
                        raise query_error()
                    nxt = text[j + 1]
                    buf.append(_ESCAPES.get(nxt, nxt))
                    j += 2
                    continue
                if c == '"':
                    break
                if c in "\t\n\r":
                    raise query_error()
                buf.append(c)
                j += 1
            tokens.append(Token("STR", "".join(buf)))
            i = j + 1
            continue
        if char in "(),":
            tokens.append(Token(char, char))
            i += 1
            continue
        if char in "=!<>":
            pair = text[i : i + 2]
            if pair in ("!=", ">=", "<="):
                tokens.append(Token("OP", pair))
                i += 2
                continue
            if char == "!":
                raise query_error()
            tokens.append(Token("OP", char))
            i += 1
            continue
        j = i
        while j < n and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append(Token("NUM" if _NUMBER.fullmatch(word) else "WORD", word))
        i = j
    return tokens


# -- parser ---------------------------------------------------------------------------------------


@dataclass
class Value:
    """A literal (`STR`/`NUM`) or a function call (`FN`, with name and raw argument tokens)."""

    kind: str
    text: str
    args: tuple[Token, ...] = ()


@dataclass
class Predicate:
    """`field op value(s)` as written."""

    field: str
    op: str
    values: list[Value]


@dataclass
class BoolNode:
    """`and` / `or` over child nodes."""

    op: str
    children: list[Any]


@dataclass
class Parsed:
    """The syntax tree of a whole query."""

    condition: Any
    order: list[tuple[str, bool]]
    limit: int | None
    offset: int | None


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> Token | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise query_error()
        self.pos += 1
        return token

    def is_word(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == "WORD" and token.text.lower() == word

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            raise query_error()
        self.pos += 1

    def expect(self, kind: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise query_error()
        return token

    def at_options(self) -> bool:
        if self.is_word("order") and self.is_word("by", 1):
            return True
        nxt = self.peek(1)
        return (self.is_word("limit") or self.is_word("offset")) and (
            nxt is not None and nxt.kind == "NUM"
        )

    def query(self) -> Parsed:
        condition = None
        if self.peek() is not None and not self.at_options():
            condition = self.condition()
        order: list[tuple[str, bool]] = []
        limit = offset = None
        if self.is_word("order"):
            self.pos += 1
            self.expect_word("by")
            order.append(self.sort_key())
            while self.peek() is not None and self.peek().kind == ",":
                self.pos += 1
                order.append(self.sort_key())
        if self.is_word("limit"):
            self.pos += 1
            limit = self.integer()
        if self.is_word("offset"):
            self.pos += 1
            offset = self.integer()
        if self.peek() is not None:
            raise query_error()
        return Parsed(condition, order, limit, offset)

    def integer(self) -> int:
        token = self.expect("NUM")
        if not re.fullmatch(r"[+-]?\d+", token.text):
            raise query_error()
        value = int(token.text)
        if value < 0:
            raise query_error()
        return value

    def sort_key(self) -> tuple[str, bool]:
        token = self.expect("WORD")
        descending = True  # a key without direction sorts descending, as kintone does
        if self.is_word("asc"):
            self.pos += 1
            descending = False
        elif self.is_word("desc"):
            self.pos += 1
        return token.text, descending

    def condition(self) -> Any:
        children = [self.conjunction()]
        while self.is_word("or"):
            self.pos += 1
            children.append(self.conjunction())
        return children[0] if len(children) == 1 else BoolNode("or", children)

    def conjunction(self) -> Any:
        children = [self.term()]
        while self.is_word("and"):
            self.pos += 1
            children.append(self.term())
        return children[0] if len(children) == 1 else BoolNode("and", children)

    def term(self) -> Any:
        token = self.peek()
        if token is not None and token.kind == "(":
            self.pos += 1
            node = self.condition()
            self.expect(")")
            return node
        return self.predicate()

    def predicate(self) -> Predicate:
        name = self.expect("WORD").text
        token = self.take()
        if token.kind == "OP":
            return Predicate(name, token.text, [self.value()])
        if token.kind != "WORD":
            raise query_error()
        word = token.text.lower()
        if word == "not":
            nxt = self.take()
            if nxt.kind != "WORD" or nxt.text.lower() not in ("in", "like"):
                raise query_error()
            word = "not " + nxt.text.lower()
        if word in ("in", "not in"):
            return Predicate(name, word, self.value_list())
        if word in ("like", "not like"):
            literal = self.expect("STR")
            return Predicate(name, word, [Value("STR", literal.text)])
        if word == "is":
            negated = False
            if self.is_word("not"):
                self.pos += 1
                negated = True
            self.expect_word("empty")
            return Predicate(name, "is not empty" if negated else "is empty", [])
        raise query_error()

    def value_list(self) -> list[Value]:
        self.expect("(")
        values = [self.value()]
        while self.peek() is not None and self.peek().kind == ",":
            self.pos += 1
            values.append(self.value())
        self.expect(")")
        return values

    def value(self) -> Value:
        token = self.take()
        if token.kind in ("STR", "NUM"):
            return Value(token.kind, token.text)
        if token.kind == "WORD":
            nxt = self.peek()
            if nxt is None or nxt.kind != "(":
                raise query_error()
            self.pos += 1
            args: list[Token] = []
            if self.peek() is not None and self.peek().kind == ")":
                self.pos += 1
                return Value("FN", token.text.upper(), ())
            while True:
                arg = self.take()
                if arg.kind not in ("NUM", "WORD", "STR"):
                    raise query_error()
                args.append(arg)
                sep = self.take()
                if sep.kind == ")":
                    break
                if sep.kind != ",":
                    raise query_error()
            return Value("FN", token.text.upper(), tuple(args))
        raise query_error()


def parse(text: str) -> Parsed:
    """Parse query text into a syntax tree (syntax errors raise CB_VA01 on `query`)."""
    return _Parser(tokenize(text)).query()


# -- date functions ------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def _month_day(first: date, arg: Token | None) -> tuple[date, date]:
    """The range for THIS_MONTH-style functions given the month's first day."""
    last_day = calendar.monthrange(first.year, first.month)[1]
    if arg is None:
        return first, first.replace(day=last_day)
    if arg.kind == "WORD" and arg.text.upper() == "LAST":
        day = first.replace(day=last_day)
        return day, day
    if arg.kind != "NUM" or not re.fullmatch(r"\d+", arg.text) or not 1 <= int(arg.text) <= 31:
        raise coded(400, "GAIA_IQ23", value=arg.text)
    number = int(arg.text)
    if number > last_day:
        # The day does not exist in this month: kintone rolls over to the next month's first.
        day = _add_months(first, 1)
    else:
        day = first.replace(day=number)
    return day, day


def _arity(value: Value, allowed: tuple[int, ...]) -> None:
    if len(value.args) not in allowed:
        raise coded(400, "GAIA_IL08")


def date_range(value: Value, env: QueryEnv) -> tuple[date, date]:
    """The inclusive range of calendar days (user's zone) a date function denotes."""
    today = env.now.astimezone(env.tz).date()
    name = value.text
    if name in ("NOW", "TODAY", "YESTERDAY", "TOMORROW"):
        _arity(value, (0,))
        shift = {"NOW": 0, "TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[name]
        day = today + timedelta(days=shift)
        return day, day
    if name == "FROM_TODAY":
        _arity(value, (2,))
        amount, unit = value.args
        if amount.kind != "NUM" or not re.fullmatch(r"[+-]?\d+", amount.text):
            raise query_error()
        number = int(amount.text)
        unit_name = unit.text.upper() if unit.kind == "WORD" else ""
        if unit_name == "DAYS":
            day = today + timedelta(days=number)
        elif unit_name == "WEEKS":
            day = today + timedelta(weeks=number)
        elif unit_name == "MONTHS":
            day = _add_months(today, number)
        elif unit_name == "YEARS":
            day = _add_months(today, 12 * number)
        else:
            raise coded(400, "GAIA_IQ25")
        return day, day
    if name in ("THIS_WEEK", "LAST_WEEK", "NEXT_WEEK"):
        _arity(value, (0, 1))
        # Weeks run Sunday..Saturday; Python's weekday() has Monday == 0.
        sunday = today - timedelta(days=(today.weekday() + 1) % 7)
        sunday += timedelta(weeks={"THIS_WEEK": 0, "LAST_WEEK": -1, "NEXT_WEEK": 1}[name])
        if not value.args:
            return sunday, sunday + timedelta(days=6)
        arg = value.args[0]
        if arg.kind != "WORD" or arg.text.upper() not in _WEEKDAYS:
            raise query_error()
        day = sunday + timedelta(days=_WEEKDAYS.index(arg.text.upper()))
        return day, day
    if name in ("THIS_MONTH", "LAST_MONTH", "NEXT_MONTH"):
        _arity(value, (0, 1))
        shift = {"THIS_MONTH": 0, "LAST_MONTH": -1, "NEXT_MONTH": 1}[name]
        first = _add_months(today.replace(day=1), shift)
        return _month_day(first, value.args[0] if value.args else None)
    if name in ("THIS_YEAR", "LAST_YEAR", "NEXT_YEAR"):
        _arity(value, (0,))
        year = today.year + {"THIS_YEAR": 0, "LAST_YEAR": -1, "NEXT_YEAR": 1}[name]
        return date(year, 1, 1), date(year, 12, 31)
    raise query_error()


# -- literal conversion ----------------------------------------------------------------------------


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise query_error() from None
    if not value.is_finite():
        raise query_error()
    return value


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise query_error() from None


_DT_LITERAL = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _parse_instant(text: str, tz: tzinfo) -> datetime:
    match = _DT_LITERAL.fullmatch(text.strip())
    if not match:
        raise query_error()
    day, hour, minute, second, zone = match.groups()
    try:
        local = datetime.combine(
            date.fromisoformat(day), time(int(hour), int(minute), int(second or 0))
        )
    except ValueError:
        raise query_error() from None
    if zone is None:
        return local.replace(tzinfo=tz).astimezone(UTC)
    if zone == "Z":
        return local.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (local - sign * offset).replace(tzinfo=UTC)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_start_utc(day: date, tz: tzinfo) -> str:
    return _utc_text(datetime.combine(day, time()).replace(tzinfo=tz))


# -- value tests ------------------------------------------------------------------------------------


def _range_test(op: str, low: Any, high: Any, exclusive_high: bool) -> Callable[[Any], bool]:
    """Compare a stored value to [low, high] (or [low, high) when `exclusive_high`)."""
    if exclusive_high:
        tests = {
            "=": lambda v: v is not None and low <= v < high,
            "!=": lambda v: v is None or not (low <= v < high),
            ">": lambda v: v is not None and v >= high,
            ">=": lambda v: v is not None and v >= low,
            "<": lambda v: v is not None and v < low,
            "<=": lambda v: v is not None and v < high,
        }
    else:
        tests = {
            "=": lambda v: v is not None and low <= v <= high,
            "!=": lambda v: v is None or not (low <= v <= high),
            ">": lambda v: v is not None and v > high,
            ">=": lambda v: v is not None and v >= low,
            "<": lambda v: v is not None and v < low,
            "<=": lambda v: v is not None and v <= high,
        }
    return tests[op]


def _membership(op: str, wanted: set, match_empty: bool, values_of) -> Callable[[Any], bool]:
    """`in`/`not in` over a stored value seen as a list of strings (`values_of`)."""

    def contains(value: Any) -> bool:
        items = values_of(value)
        if not items:
            return match_empty
        return any(item in wanted for item in items)

    if op == "in":
        return contains
    return lambda value: not contains(value)


def _as_list_of_text(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [value]


def _codes_of_list(value: Any) -> list[str]:
    return [entity.get("code") for entity in value or []]


def _code_of_one(value: Any) -> list[str]:
    return [value["code"]] if value else []


def _blank(text: str) -> bool:
    return text.strip(" \t\r\n\u3000") == ""


def word_search(needle: str) -> Callable[[str], bool]:
    """kintone's `like`: every term must occur; ASCII terms as whole words, others as 2+ chars."""
    terms = [t for t in re.split(r"[\s\u3000]+", needle.casefold()) if t]
    ascii_words: list[str] = []
    substrings: list[str] = []
    impossible = False
    for term in terms:
        if term.isascii():
            words = _ASCII_WORD.findall(term)
            if not words:
                impossible = True
            ascii_words.extend(words)
        elif len(term) >= 2:
            substrings.append(term)
        else:
            impossible = True  # the full-text index ignores single non-ASCII characters
    if impossible:
        return lambda text: False
    if not ascii_words and not substrings:
        return lambda text: True

    def matches(text: str) -> bool:
        folded = text.casefold()
        if any(s not in folded for s in substrings):
            return False
        if ascii_words:
            present = set(_ASCII_WORD.findall(folded))
            return all(w in present for w in ascii_words)
        return True

    return matches


def strip_tags(html: str) -> str:
    """Rich text as plain text for searching and emptiness."""
    return _TAG.sub(" ", html).replace("&nbsp;", " ")


# -- compiler --------------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, resolve: Callable[[str], FieldRef], env: QueryEnv) -> None:
        self.resolve = resolve
        self.env = env
        self.uses_like = False

    # A compiled node is (predicate over a record, optional (table, row test, positive)).

    def node(self, node: Any) -> Callable[[Any], bool] | None:
        if isinstance(node, Predicate):
            return self.predicate(node)
        children = node.children
        if node.op == "or":
            preds = [self.node(child) for child in children]
            if any(p is None for p in preds):
                return None  # an ignored condition is "true", which makes the `or` true
            return lambda rec: any(p(rec) for p in preds)
        return self.conjunction(children)

    def conjunction(self, children: list[Any]) -> Callable[[Any], bool] | None:
        preds: list[Callable[[Any], bool]] = []
        # Positive conditions on cells of one table must hold in the same row.
        same_row: dict[str, tuple[Callable, list[Callable[[Any], bool]]]] = {}
        for child in children:
            if isinstance(child, Predicate):
                ref = self.resolve(child.field)
                if ref.table is not None and child.op not in _NEGATIVE_OPS:
                    test = self.value_test(ref, child)
                    if test is None:
                        continue
                    getter = ref.get
                    entry = same_row.setdefault(ref.table, (ref.rows, []))
                    entry[1].append(lambda row, t=test, g=getter: t(g(row)))
                    continue
            pred = self.node(child)
            if pred is not None:
                preds.append(pred)
        for rows_of, tests in same_row.values():
            preds.append(
                lambda rec, r=rows_of, ts=tests: any(all(t(row) for t in ts) for row in r(rec))
            )
        if not preds:
            return None
        if len(preds) == 1:
            return preds[0]
        return lambda rec: all(p(rec) for p in preds)

    def predicate(self, pred: Predicate) -> Callable[[Any], bool] | None:
        ref = self.resolve(pred.field)
        test = self.value_test(ref, pred)
        if test is None:
            return None
        getter = ref.get
        if ref.table is None:
            return lambda rec: test(getter(rec))
        rows_of = ref.rows
        if pred.op in _NEGATIVE_OPS:
            return lambda rec: bool(rows := rows_of(rec)) and all(test(getter(r)) for r in rows)
        return lambda rec: any(test(getter(r)) for r in rows_of(rec))

    def check_operator(self, ref: FieldRef, op: str) -> None:
        if ref.table is not None and op in ("=", "!="):
            raise coded(400, "GAIA_IQ07", field=ref.code, op=op)
        if op not in OPERATORS.get(ref.type, frozenset()):
            raise coded(400, "GAIA_IQ03", field=ref.code, op=op)

    def value_test(self, ref: FieldRef, pred: Predicate) -> Callable[[Any], bool] | None:
        """A test over one stored value; None when the condition is to be ignored."""
        op, ftype = pred.op, ref.type
        self.check_operator(ref, op)
        if op in ("like", "not like"):
            self.uses_like = True
            search = word_search(pred.values[0].text)
            to_text = ref.text or (lambda v: v or "")
            if op == "like":
                return lambda v: search(to_text(v))
            return lambda v: not search(to_text(v))
        if op in ("is empty", "is not empty"):
            to_text = ref.text or (lambda v: v or "")
            if ftype == "FILE":
                empty = lambda v: not v  # noqa: E731
            else:
                empty = lambda v: _blank(to_text(v))  # noqa: E731
            return empty if op == "is empty" else (lambda v: not empty(v))
        if ftype in NUMERIC_TYPES:
            return self.numeric_test(ref, pred)
        if ftype in ("DATE", "TIME") or ftype in DATETIME_TYPES:
            return self.temporal_test(ref, pred)
        if op in ("in", "not in"):
            return self.membership_test(ref, pred)
        # `=` / `!=` on text and STATUS
        literal = self.text_literal(pred.values[0])
        if ftype in CHOICE_TYPES:
            if op == "=":
                return lambda v: (v or "") == literal
            return lambda v: (v or "") != literal
        if op == "=":
            return lambda v: v == literal
        return lambda v: v != literal

    def text_literal(self, value: Value) -> str:
        if value.kind == "FN":
            raise query_error()
        return value.text

    def numeric_test(self, ref: FieldRef, pred: Predicate) -> Callable[[Any], bool]:
        is_id = ref.type in ID_TYPES
        convert = (lambda v: v) if is_id else _stored_number
        if pred.op in ("in", "not in"):
            wanted: set = set()
            match_empty = False
            for value in pred.values:
                if value.kind == "FN":
                    raise query_error()
                if value.text.strip() == "":
                    match_empty = True
                    continue
                wanted.add(_decimal(value.text))

            def contains(v: Any) -> bool:
                number = convert(v)
                if number is None:
                    return match_empty
                return number in wanted

            if pred.op == "in":
                return contains
            return lambda v: not contains(v)
        value = pred.values[0]
        if value.kind == "FN":
            raise query_error()
        literal = _decimal(value.text)
        base = _range_test(pred.op, literal, literal, exclusive_high=False)
        return lambda v: base(convert(v))

    def temporal_test(self, ref: FieldRef, pred: Predicate) -> Callable[[Any], bool]:
        value = pred.values[0]
        ftype = ref.type
        if ftype == "TIME":
            if value.kind == "FN":
                raise query_error()
            match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", value.text.strip())
            if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                raise query_error()
            literal = f"{int(match.group(1)):02d}:{match.group(2)}"
            return _range_test(pred.op, literal, literal, exclusive_high=False)
        tz = self.env.tz
        if value.kind == "FN":
            if value.text in _USER_FUNCTIONS or value.text not in _DATE_FUNCTIONS:
                raise query_error()
            if value.text == "NOW" and ftype in DATETIME_TYPES:
                _arity(value, (0,))
                minute = self.env.now.astimezone(UTC).replace(second=0, microsecond=0)
                low = _utc_text(minute)
                high = _utc_text(minute + timedelta(minutes=1))
                return _empty_as_none(_range_test(pred.op, low, high, exclusive_high=True))
            first, last = date_range(value, self.env)
        elif ftype == "DATE" and "T" not in value.text:
            first = last = _parse_date(value.text)
        elif ftype == "DATE":
            first = last = _parse_instant(value.text, tz).astimezone(tz).date()
        elif len(value.text.strip()) <= 10:
            first = last = _parse_date(value.text)
        else:
            instant = _parse_instant(value.text, tz).replace(second=0)
            low = _utc_text(instant)
            high = _utc_text(instant + timedelta(minutes=1))
            return _empty_as_none(_range_test(pred.op, low, high, exclusive_high=True))
        if ftype == "DATE":
            return _range_test(pred.op, first.isoformat(), last.isoformat(), exclusive_high=False)
        low = _day_start_utc(first, tz)
        high = _day_start_utc(last + timedelta(days=1), tz)
        return _empty_as_none(_range_test(pred.op, low, high, exclusive_high=True))

    def membership_test(self, ref: FieldRef, pred: Predicate) -> Callable[[Any], bool] | None:
        ftype = ref.type
        wanted: set[str] = set()
        match_empty = False
        ignored_function = False
        for value in pred.values:
            if value.kind == "FN":
                name = value.text
                if name == "LOGINUSER" and ftype in (ENTITY_LIST_TYPES | ENTITY_ONE_TYPES) - {
                    "ORGANIZATION_SELECT",
                    "GROUP_SELECT",
                }:
                    _arity(value, (0,))
                    wanted.add(self.env.login_user)
                    continue
                if name == "PRIMARY_ORGANIZATION" and ftype == "ORGANIZATION_SELECT":
                    _arity(value, (0,))
                    if self.env.primary_organization:
                        wanted.add(self.env.primary_organization)
                    else:
                        ignored_function = True
                    continue
                raise query_error()
            if value.text == "":
                match_empty = True
            else:
                wanted.add(value.text)
        if ignored_function and not wanted and not match_empty:
            # PRIMARY_ORGANIZATION() of a user without one: the condition is ignored.
            return None
        if ftype in MULTI_CHOICE_TYPES:
            values_of = _identity_list
        elif ftype in ENTITY_LIST_TYPES:
            values_of = _codes_of_list
        elif ftype in ENTITY_ONE_TYPES:
            values_of = _code_of_one
        else:
            values_of = _as_list_of_text
        return _membership(pred.op, wanted, match_empty, values_of)


def _identity_list(value: Any) -> list:
    return value or []


def _empty_as_none(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: test(v or None)


_NUMBER_CACHE: dict[str, Decimal] = {}


def _stored_number(value: Any) -> Decimal | None:
    """A stored NUMBER/CALC string as Decimal (None when empty or not numeric)."""
    if value is None or value == "":
        return None
    number = _NUMBER_CACHE.get(value)
    if number is None:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        if len(_NUMBER_CACHE) < 200_000:
            _NUMBER_CACHE[value] = number
    return number


def _id_bounds(
    node: Any, resolve: Callable[[str], FieldRef]
) -> tuple[list[Any], int | None, int | None, bool]:
    """Pull record-id comparisons out of a top-level `and` so the store can bisect on them."""
    children = node.children if isinstance(node, BoolNode) and node.op == "and" else [node]
    low: int | None = None
    high: int | None = None
    impossible = False
    rest: list[Any] = []
    for child in children:
        if (
            isinstance(child, Predicate)
            and child.op in ("=", ">", ">=", "<", "<=")
            and child.values[0].kind in ("NUM", "STR")
        ):
            ref = resolve(child.field)
            if ref.type in ID_TYPES:
                number = _decimal(child.values[0].text)
                floor = int(number.to_integral_value(rounding="ROUND_FLOOR"))
                ceil = int(number.to_integral_value(rounding="ROUND_CEILING"))
                lo, hi = None, None
                if child.op == "=":
                    if floor != ceil:
                        impossible = True
                    lo, hi = ceil, floor
                elif child.op == ">":
                    lo = floor + 1
                elif child.op == ">=":
                    lo = ceil
                elif child.op == "<":
                    hi = ceil - 1
                else:
                    hi = floor
                if lo is not None:
                    low = lo if low is None else max(low, lo)
                if hi is not None:
                    high = hi if high is None else min(high, hi)
                continue
        rest.append(child)
    if low is not None and high is not None and low > high:
        impossible = True
    return rest, low, high, impossible


def compile_query(
    text: str | None,
    resolve: Callable[[str], FieldRef],
    env: QueryEnv,
    *,
    allow_limit: bool = True,
) -> CompiledQuery:
    """Parse and compile `text`; raise KintoneError with kintone's codes on any problem."""
    parsed = parse(text or "")
    if not allow_limit and (parsed.limit is not None or parsed.offset is not None):
        raise query_error("cursor_no_limit")
    if parsed.limit is not None and parsed.limit > MAX_LIMIT:
        raise coded(400, "GAIA_QU01")
    if parsed.offset is not None and parsed.offset > MAX_OFFSET:
        raise coded(400, "GAIA_QU02")
    compiled = CompiledQuery(limit=parsed.limit, offset=parsed.offset)
    compiler = _Compiler(resolve, env)
    if parsed.condition is not None:
        # Compile everything first so errors in any branch surface, then extract id bounds.
        compiler.node(parsed.condition)
        rest, low, high, impossible = _id_bounds(parsed.condition, resolve)
        compiled.id_low, compiled.id_high, compiled.impossible = low, high, impossible
        if rest:
            compiled.predicate = compiler.conjunction(rest)
    for code, descending in parsed.order:
        ref = resolve(code)
        if ref.table is not None or ref.type not in SORTABLE_TYPES:
            raise query_error("sort_field", field=code)
        compiled.order.append((ref, descending))
    compiled.uses_like = compiler.uses_like
    return compiled


def sort_key(ref: FieldRef) -> Callable[[Any], tuple]:
    """A key function ordering empty values first, numbers numerically, the rest as text."""
    getter = ref.get
    if ref.type in ID_TYPES:
        return lambda rec: (1, getter(rec))
    if ref.type in ("NUMBER", "CALC"):

        def numeric(rec: Any) -> tuple:
            number = _stored_number(getter(rec))
            return (0, Decimal(0)) if number is None else (1, number)

        return numeric
    if ref.type in ENTITY_ONE_TYPES:
        return lambda rec: (1, (getter(rec) or {}).get("code", ""))

    def textual(rec: Any) -> tuple:
        value = getter(rec)
        return (0, "") if value in (None, "") else (1, value)

    return textual


def sort_records(records: list[Any], order: list[tuple[FieldRef, bool]]) -> None:
    """Sort in place by several keys (stable passes from the last key to the first)."""
    for ref, descending in reversed(order):
        records.sort(key=sort_key(ref), reverse=descending)
