"""JSON bodies that cannot be decoded at all: invalid UTF-8, or nested deeper than the decoder goes.

msgspec raises UnicodeDecodeError and RecursionError for these rather than DecodeError; every
place that decodes a client's bytes catches `UNDECODABLE` and answers a 400 with `undecodable_reason`.
"""

from __future__ import annotations

from typing import Final

UNDECODABLE: Final = (UnicodeDecodeError, RecursionError)


def undecodable_reason(exc: UnicodeDecodeError | RecursionError) -> str:
    """What is wrong with the body, for the problem's `detail` (the field is always `body`)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    return "is nested too deeply (JSON nesting is limited by the decoder, to about 1,000 levels)"
