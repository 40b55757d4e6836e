"""計算 (CALC) fields: the arithmetic subset of kintone's formulas, computed on every write.

Supported: numbers, field codes of top-level NUMBER and CALC fields, + - * / ^ (power),
parentheses and unary minus. A blank operand counts as 0. Anything else (functions such as SUM
or ROUND, text, dates, `&`, table fields) is not computed: the field keeps "" — see README.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from functools import lru_cache

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([-+*/^()])|([^\s\-+*/^()]+))")
NUMERIC_SOURCES = frozenset({"NUMBER", "CALC"})


class Unsupported(Exception):
    """The expression uses something outside the arithmetic subset."""


@lru_cache(maxsize=256)
def _tokens(expression: str) -> tuple[tuple[str, str], ...]:
    tokens, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Unsupported(expression)
        number, operator, name = match.groups()
        if number is not None:
            tokens.append(("num", number))
        elif operator is not None:
            tokens.append(("op", operator))
        else:
            tokens.append(("name", name))
        position = match.end()
    return tuple(tokens)


class _Parser:
    """Recursive descent over the tokens; `resolve(code)` gives a field's value."""

    def __init__(
        self, tokens: tuple[tuple[str, str], ...], resolve: Callable[[str], Decimal]
    ) -> None:
        self.tokens = tokens
        self.index = 0
        self.resolve = resolve

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise Unsupported("unexpected end")
        self.index += 1
        return token

    def parse(self) -> Decimal:
        value = self._sum()
        if self._peek() is not None:
            raise Unsupported("trailing tokens")
        return value

    def _sum(self) -> Decimal:
        value = self._product()
        while self._peek() in (("op", "+"), ("op", "-")):
            operator = self._take()[1]
            right = self._product()
            value = value + right if operator == "+" else value - right
        return value

    def _product(self) -> Decimal:
        value = self._power()
        while self._peek() in (("op", "*"), ("op", "/")):
            operator = self._take()[1]
            right = self._power()
            value = value * right if operator == "*" else value / right
        return value

    def _power(self) -> Decimal:
        base = self._unary()
        if self._peek() == ("op", "^"):
            self._take()
            return base ** self._power()
        return base

    def _unary(self) -> Decimal:
        if self._peek() == ("op", "-"):
            self._take()
            return -self._unary()
        if self._peek() == ("op", "+"):
            self._take()
            return self._unary()
        kind, text = self._take()
        if kind == "num":
            return Decimal(text)
        if kind == "name":
            if self._peek() == ("op", "("):
                raise Unsupported(f"function {text}")
            return self.resolve(text)
        if text == "(":
            value = self._sum()
            if self._take() != ("op", ")"):
                raise Unsupported("unbalanced parentheses")
            return value
        raise Unsupported(text)


def _text(value: Decimal) -> str:
    """kintone's plain decimal text: no exponent, no trailing zeros."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def compute(
    expression: str, fields: Mapping[str, tuple[str, str | None]], _seen: frozenset = frozenset()
) -> str:
    """The value of `expression`; `fields` maps a code to (type, stored value or CALC expression).

    Raises Unsupported outside the arithmetic subset; "" for a division by zero.
    """

    def resolve(code: str) -> Decimal:
        if code not in fields or code in _seen:
            raise Unsupported(code)
        ftype, stored = fields[code]
        if ftype not in NUMERIC_SOURCES:
            raise Unsupported(code)
        if ftype == "CALC":
            stored = compute(stored or "", fields, _seen | {code})
        return Decimal(stored) if stored not in (None, "") else Decimal(0)

    with localcontext() as context:
        context.prec = 28
        context.traps[DivisionByZero] = True
        try:
            return _text(_Parser(_tokens(expression), resolve).parse())
        except (DivisionByZero, InvalidOperation, Overflow):
            return ""
