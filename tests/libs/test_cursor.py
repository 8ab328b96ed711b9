"""Cursors: one grammar (ASCII decimal digits) wherever a client hands one back."""

from __future__ import annotations

import pytest

from runwire.contract.cursor import MAX_CURSOR, CursorError, format_cursor, parse_cursor


def test_a_formatted_cursor_parses_back() -> None:
    assert parse_cursor(format_cursor(42)) == 42


def test_surrounding_spaces_are_ignored() -> None:
    assert parse_cursor(" 42\t") == 42


@pytest.mark.parametrize(
    "value", ["１", "４２", "٤٢", "4２", "", "-1", "+1", "1.0", "0x10", "1_000", "42\n", str(MAX_CURSOR + 1)]
)
def test_anything_but_ascii_digits_is_refused(value: str) -> None:
    with pytest.raises(CursorError):
        parse_cursor(value)
