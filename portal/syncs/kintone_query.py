"""Checks that a text is one pure kintone query condition (no `order by` / `limit` / `offset`).

The kintone plugin sends the list view's filter (`kintone.app.getQueryCondition()`); the portal
runs 顧客情報連携 with it instead of the saved conditions. Before that text reaches a kintone query
it is parsed here with kintone's own query rules (spec §5.1): the tokens kintone knows (string
literals with `\\"` `\\\\` `\\t` `\\n` escapes and no raw tab or newline inside, numbers, words,
comparison operators, parentheses, commas; whitespace including U+3000) and the grammar

    condition := term { ("and" | "or") term }
    term      := "(" condition ")" | predicate
    predicate := FIELD cmp value | FIELD ["not"] "in" "(" value {"," value} ")"
               | FIELD ["not"] "like" STRING | FIELD "is" ["not"] "empty"
    value     := STRING | NUMBER | FUNCTION "(" [arg {"," arg}] ")"

with case-insensitive keywords. Anything after a complete condition is refused — in particular
`order by`, `limit` and `offset`, which would change which records the run reads — and so are
LOGINUSER() and PRIMARY_ORGANIZATION(): the run reads with the connector's API token, for which
kintone evaluates them as another user than the one looking at the list.
Pure: no Flask, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CONDITION_LENGTH = 10_000

_WHITESPACE = " \t\r\n\u3000"
_SPECIAL = '()",=!<>'
_ESCAPES = {'"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_COMPARISONS = ("=", "!=", ">", "<", ">=", "<=")

DATE_FUNCTIONS = frozenset(
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
USER_FUNCTIONS = frozenset({"LOGINUSER", "PRIMARY_ORGANIZATION"})

MSG_NOT_TEXT = "kintoneから送信された絞り込み条件の形式が正しくありません。"
MSG_TOO_LONG = (
    "kintoneの絞り込み条件が長すぎます（{limit}文字まで）。一覧の絞り込み条件を見直してください。"
)
MSG_SYNTAX = (
    "kintoneの絞り込み条件を解析できません（{where}）。"
    "kintoneの一覧画面で絞り込み条件を確認してください。"
)
MSG_OPTIONS = (
    "絞り込み条件に並び順・件数・開始位置（order by / limit / offset）は指定できません。"
    "一覧の絞り込み条件だけを送信してください。"
)
MSG_USER_FUNCTION = (
    "ログインユーザー・組織を使った絞り込み条件（{name}()）は、kintoneからの実行では利用できません。"
    "ユーザー名・組織名を直接指定した一覧で実行してください。"
)


class ConditionRejected(ValueError):
    """The text is not one pure kintone condition; `message` says why, in Japanese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Token:
    kind: str  # STR, NUM, WORD, OP, "(", ")", ","
    text: str
    position: int  # 0-based offset of the token in the text


@dataclass(frozen=True)
class CheckedCondition:
    """A condition that passed: its text (stripped) and the field codes it names, in order."""

    text: str
    fields: tuple[str, ...]


def _syntax_error(token: _Token | None, text: str) -> ConditionRejected:
    if token is None:
        where = "条件の途中で終わっています"
    else:
        shown = token.text if token.kind != "STR" else f'"{token.text}"'
        where = f"{token.position + 1}文字目の「{shown[:30]}」付近"
    return ConditionRejected(MSG_SYNTAX.format(where=where))


def tokenize(text: str) -> list[_Token]:
    """Split `text` into kintone query tokens; raise ConditionRejected on a lexical error."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _WHITESPACE:
            i += 1
            continue
        if char == '"':
            i = _read_string(text, i, tokens)
            continue
        if char in "(),":
            tokens.append(_Token(char, char, i))
            i += 1
            continue
        if char in "=!<>":
            pair = text[i : i + 2]
            if pair in ("!=", ">=", "<="):
                tokens.append(_Token("OP", pair, i))
                i += 2
                continue
            if char == "!":
                raise _syntax_error(_Token("OP", char, i), text)
            tokens.append(_Token("OP", char, i))
            i += 1
            continue
        j = i
        while j < n and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append(_Token("NUM" if _NUMBER.fullmatch(word) else "WORD", word, i))
        i = j
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    """Append the string literal opening at `start`; return the index after its closing quote."""
    j, buf, n = start + 1, [], len(text)
    while j < n:
        char = text[j]
        if char == "\\":
            if j + 1 >= n:
                break
            buf.append(_ESCAPES.get(text[j + 1], text[j + 1]))
            j += 2
            continue
        if char == '"':
            tokens.append(_Token("STR", "".join(buf), start))
            return j + 1
        if char in "\t\n\r":
            # kintone refuses raw control characters inside a literal (CB_VA01).
            raise _syntax_error(_Token("STR", "".join(buf), start), text)
        buf.append(char)
        j += 1
    raise _syntax_error(None, text)


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.fields: list[str] = []

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _syntax_error(None, self.text)
        self.pos += 1
        return token

    def is_word(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == "WORD" and token.text.lower() == word

    def expect(self, kind: str) -> _Token:
        token = self.take()
        if token.kind != kind:
            raise _syntax_error(token, self.text)
        return token

    def at_options(self) -> bool:
        """True at `order by`, `limit N` or `offset N` (where kintone's query options start)."""
        if self.is_word("order") and self.is_word("by", 1):
            return True
        following = self.peek(1)
        return (self.is_word("limit") or self.is_word("offset")) and (
            following is not None and following.kind == "NUM"
        )

    def whole(self) -> None:
        if self.at_options():
            raise ConditionRejected(MSG_OPTIONS)
        self.condition()
        token = self.peek()
        if token is None:
            return
        if self.at_options():
            raise ConditionRejected(MSG_OPTIONS)
        raise _syntax_error(token, self.text)

    def condition(self) -> None:
        self.term()
        while self.is_word("and") or self.is_word("or"):
            self.pos += 1
            self.term()

    def term(self) -> None:
        token = self.peek()
        if token is not None and token.kind == "(":
            self.pos += 1
            self.condition()
            self.expect(")")
            return
        self.predicate()

    def predicate(self) -> None:
        field = self.expect("WORD")
        self.fields.append(field.text)
        token = self.take()
        if token.kind == "OP":
            self.value()
            return
        if token.kind != "WORD":
            raise _syntax_error(token, self.text)
        word = token.text.lower()
        if word == "not":
            following = self.take()
            if following.kind != "WORD" or following.text.lower() not in ("in", "like"):
                raise _syntax_error(following, self.text)
            word = following.text.lower()
        if word == "in":
            self.value_list()
        elif word == "like":
            self.expect("STR")
        elif word == "is":
            if self.is_word("not"):
                self.pos += 1
            if not self.is_word("empty"):
                raise _syntax_error(self.peek(), self.text)
            self.pos += 1
        else:
            raise _syntax_error(token, self.text)

    def value_list(self) -> None:
        self.expect("(")
        self.value()
        while self.peek() is not None and self.peek().kind == ",":
            self.pos += 1
            self.value()
        self.expect(")")

    def value(self) -> None:
        token = self.take()
        if token.kind in ("STR", "NUM"):
            return
        if token.kind != "WORD":
            raise _syntax_error(token, self.text)
        opening = self.peek()
        if opening is None or opening.kind != "(":
            raise _syntax_error(opening or token, self.text)
        name = token.text.upper()
        if name in USER_FUNCTIONS:
            raise ConditionRejected(MSG_USER_FUNCTION.format(name=name))
        if name not in DATE_FUNCTIONS:
            raise _syntax_error(token, self.text)
        self.pos += 1
        if self.peek() is not None and self.peek().kind == ")":
            self.pos += 1
            return
        while True:
            argument = self.take()
            if argument.kind not in ("NUM", "WORD", "STR"):
                raise _syntax_error(argument, self.text)
            separator = self.take()
            if separator.kind == ")":
                return
            if separator.kind != ",":
                raise _syntax_error(separator, self.text)


def check_condition(text: object, *, max_length: int = MAX_CONDITION_LENGTH) -> CheckedCondition:
    """`text` as a pure kintone condition ("" = every record); ConditionRejected otherwise."""
    if text is None:
        return CheckedCondition("", ())
    if not isinstance(text, str):
        raise ConditionRejected(MSG_NOT_TEXT)
    if len(text) > max_length:
        raise ConditionRejected(MSG_TOO_LONG.format(limit=f"{max_length:,}"))
    stripped = text.strip(_WHITESPACE)
    if not stripped:
        return CheckedCondition("", ())
    parser = _Parser(stripped, tokenize(stripped))
    parser.whole()
    return CheckedCondition(stripped, tuple(parser.fields))
