"""The calculator's safe parser: values, errors, limits, and finding expressions in free text."""

from __future__ import annotations

import pytest

from runwire_agent.tools.calculator import CalculatorError, evaluate, find_expression


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("2 ^ 10", 1024),
        ("2 ** -1", 0.5),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("-3 + 5", 2),
        ("--4", 4),
        ("0.1 + 0.2", 0.3),
        ("1 / 3 * 3", 1),
        (".5 * 4", 2),
        ("17 * (3 + 4)", 119),
    ],
)
def test_evaluate(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("1 / 0", "division by zero"),
        ("5 // (2 - 2)", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("2 ** 65", "exponents are limited to ±64"),
        ("2 ** 0.5", "only whole-number exponents are supported"),
        ("10 ** 60 * 10 ** 60", "the result is too large (more than 10^100)"),
        ("__import__('os')", "unexpected '_' at position 0"),
        ("1 +", "the expression ends too early"),
        ("(1 + 2", "the expression ends too early"),
        ("1 2", "unexpected '2' after the expression"),
        ("", "the expression is empty"),
        ("1" * 201, "expressions are limited to 200 characters"),
    ],
)
def test_evaluate_refuses(expression: str, error: str) -> None:
    with pytest.raises(CalculatorError) as caught:
        evaluate(expression)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("What is 17 * (3 + 4)?", "17 * (3 + 4)"),
        ("compute 12 + 30 please", "12 + 30"),
        ("the year 2024 was long", None),
        ("no numbers here", None),
    ],
)
def test_find_expression(text: str, expression: str | None) -> None:
    assert find_expression(text) == expression
