"""PREPROCESSING and CHUNKING: deterministic text normalisation and splitting."""

from __future__ import annotations

import itertools

import pytest

from runwire.contract.chunks import Chunk
from runwire_ingest.domain.text import normalise, split


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  hello   world  ", "hello world"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("tab\there\u00a0nbsp", "tab here nbsp"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("p1\n\n\n\n\np2", "p1\n\np2"),
        ("cafe\u0301", "café"),
        (" \n\t \n ", ""),
    ],
    ids=["spaces", "line-ends", "tabs-and-nbsp", "control-characters", "blank-lines", "nfc", "blank"],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_split_short_text_is_one_chunk() -> None:
    assert split("hello world", 100, 10) == [Chunk(index=0, start=0, end=11, text="hello world")]


def test_split_windows_overlap_by_the_given_characters() -> None:
    chunks = split("x" * 250, 100, 20)
    assert [(c.start, c.end) for c in chunks] == [(0, 100), (80, 180), (160, 250)]


def test_split_ends_chunks_at_whitespace_in_the_last_fifth() -> None:
    text = ("word " * 40).strip()  # a space after every 4 letters
    chunks = split(text, 52, 0)
    assert [(c.start, c.end) for c in chunks] == [(0, 49), (49, 99), (99, 149), (149, 199)]
    assert chunks[0].text == ("word " * 10).strip()


def test_split_covers_the_whole_text() -> None:
    text = "lorem ipsum dolor sit amet " * 100
    chunks = split(text, 120, 30)
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_split_is_deterministic() -> None:
    text = "alpha beta gamma delta " * 50
    assert split(text, 64, 16) == split(text, 64, 16)


def test_split_rejects_overlap_not_below_size() -> None:
    with pytest.raises(ValueError, match="overlap < size"):
        split("abc", 10, 10)
