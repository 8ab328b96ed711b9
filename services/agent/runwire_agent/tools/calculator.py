"""A safe arithmetic evaluator: a recursive-descent parser over numbers and + - * / // % ** ^ ( ).

No `eval`: input is tokenised and parsed by a grammar that can only express arithmetic, with exact
rational arithmetic and limits on exponents and magnitudes so that no input can exhaust memory.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_EXPRESSION_LENGTH = 200
MAX_EXPONENT = 64
MAX_MAGNITUDE = Fraction(10) ** 100

_TOKEN_RE = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(\*\*|//|[-+*/%^()]))")


class CalculatorError(ValueError):
    """The expression is not arithmetic, or its value is undefined or too large."""


class NotArithmetic(CalculatorError):
    """The text does not parse as an arithmetic expression (as opposed to one without a value)."""


def _tokens(expression: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    stripped = expression.rstrip()
    while position < len(stripped):
        match = _TOKEN_RE.match(stripped, position)
        if match is None:
            raise NotArithmetic(f"unexpected {stripped[position:].strip()[0]!r} at position {position}")
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|'//'|'%') unary)* ;
    unary := ('+'|'-') unary | power ; power := atom (('**'|'^') unary)? ; atom := number | '(' expr ')'"""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise NotArithmetic("the expression ends too early")
        self.position += 1
        return token

    def expression(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = _checked(value + self.term() if self.take() == "+" else value - self.term())
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "/", "//", "%"):
            operator = self.take()
            right = self.unary()
            if operator == "*":
                value = _checked(value * right)
                continue
            if right == 0:
                raise CalculatorError("division by zero")
            if operator == "/":
                value = value / right
            elif operator == "//":
                value = Fraction(value // right)
            else:
                value = value % right
        return value

    def unary(self) -> Fraction:
        if self.peek() in ("+", "-"):
            sign = self.take()
            value = self.unary()
            return -value if sign == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() in ("**", "^"):
            self.take()
            exponent = self.unary()
            if exponent.denominator != 1:
                raise CalculatorError("only whole-number exponents are supported")
            if abs(exponent) > MAX_EXPONENT:
                raise CalculatorError(f"exponents are limited to ±{MAX_EXPONENT}")
            if base == 0 and exponent < 0:
                raise CalculatorError("division by zero")
            return _checked(base**exponent.numerator)
        return base

    def atom(self) -> Fraction:
        token = self.take()
        if token == "(":
            value = self.expression()
            if self.take() != ")":
                raise NotArithmetic("a parenthesis is not closed")
            return value
        if token[0].isdigit() or token[0] == ".":
            return Fraction(token)
        raise NotArithmetic(f"unexpected {token!r}")


def _checked(value: Fraction) -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise CalculatorError("the result is too large (more than 10^100)")
    return value


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression: an int when whole, else a float."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise NotArithmetic(f"expressions are limited to {MAX_EXPRESSION_LENGTH} characters")
    tokens = _tokens(expression)
    if not tokens:
        raise NotArithmetic("the expression is empty")
    parser = _Parser(tokens)
    value = parser.expression()
    if parser.peek() is not None:
        raise NotArithmetic(f"unexpected {parser.peek()!r} after the expression")
    if value.denominator == 1:
        return int(value)
    return float(value)


_CANDIDATE_RE = re.compile(r"[-+(.\d][\d\s.+\-*/%^()]*[\d)]")


def find_expression(text: str) -> str | None:
    """The longest arithmetic expression in free text (e.g. "what is 17 * (3 + 4)?"), if any."""
    best: str | None = None
    for match in _CANDIDATE_RE.finditer(text):
        candidate = match.group(0).strip()
        if not re.search(r"\d\s*(?:\*\*|//|[-+*/%^])\s*[-+(.]*\d", candidate):
            continue
        try:
            evaluate(candidate)
        except NotArithmetic:
            continue
        except CalculatorError:
            pass  # arithmetic without a value (1 / 0): the calculator step will say so
        if best is None or len(candidate) > len(best):
            best = candidate
    return best
