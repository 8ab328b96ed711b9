"""Text processing of the PREPROCESSING and CHUNKING stages: pure, deterministic, resumable.

Determinism is what makes a restart safe: a resumed processor re-derives exactly the same chunks
and carries on indexing from the count its events recorded.
"""

from __future__ import annotations

import re
import unicodedata

from runwire.contract.chunks import Chunk

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES_RE = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
# A chunk may end early, at whitespace, within the last fifth of its window.
BOUNDARY_SLACK = 0.2


def normalise(text: str) -> str:
    """NFC, `\\n` line ends, no control characters, single spaces, at most one blank line, trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()


def split(text: str, size: int, overlap: int) -> list[Chunk]:
    """Windows of at most `size` characters, each starting `overlap` characters before the last ended.

    A window that would cut a word ends at the last whitespace in its final fifth instead.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need 0 <= overlap < size, got size={size} overlap={overlap}")
    chunks: list[Chunk] = []
    start = 0
    length = len(text)
    while start < length:
        end = min(length, start + size)
        if end < length:
            floor = start + int(size * (1 - BOUNDARY_SLACK))
            cut = max(text.rfind(" ", floor, end), text.rfind("\n", floor, end))
            if cut > start:
                end = cut
        chunks.append(Chunk(index=len(chunks), start=start, end=end, text=text[start:end]))
        if end >= length:
            break
        start = max(end - overlap, start + 1)
    return chunks
