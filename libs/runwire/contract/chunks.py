"""Chunks of ingested documents: what ingest writes to the chunk index and the agent's search reads.

Shared by two services, so it is contract; the key-value I/O is runwire.jetstream.chunk_store's.
"""

from __future__ import annotations

from typing import Final

import msgspec

MAX_CHUNK_BYTES: Final = 64 * 1024


class Chunk(msgspec.Struct, frozen=True):
    """One piece of a normalised document: its position and text."""

    index: int
    start: int
    end: int
    text: str


def chunk_key(project: str, job: str, index: int) -> str:
    """The key of chunk `index` of a job: sortable, and one subject-filter level per part."""
    return f"{project}.{job}.{index:06d}"
