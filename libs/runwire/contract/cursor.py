"""Cursors: the opaque position a client resumes from (today the stream sequence in decimal).

Clients must treat cursors as opaque strings; only this module knows what is inside.
"""

from __future__ import annotations

import re
from typing import Final

MAX_CURSOR: Final = 2**64 - 1
# ASCII digits only: `\d` would also take other scripts' digits (`１`), which `int()` reads too.
_CURSOR_RE = re.compile(r"[0-9]{1,20}")


class CursorError(ValueError):
    """A cursor that is not one runwire issued."""


def format_cursor(seq: int) -> str:
    """The cursor of the event stored at stream sequence `seq`."""
    return str(seq)


def parse_cursor(value: str) -> int:
    """The stream sequence a cursor stands for; CursorError if it is not a runwire cursor."""
    text = value.strip(" \t")
    if not _CURSOR_RE.fullmatch(text) or int(text) > MAX_CURSOR:
        raise CursorError(f"{value!r} is not a cursor (cursors are the `id` of a delivered event)")
    return int(text)
