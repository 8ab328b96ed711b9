"""The chunk index: text chunks of ingested documents in a JetStream key-value bucket.

The ingest service writes a job's chunks here (its INDEXING stage) and the agent's search tool
reads them, so the bucket and key scheme `<project>.<job>.<index>` are defined once, here.
"""

from __future__ import annotations

import contextlib
from typing import Final

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

BUCKET: Final = "runwire-chunks"
MAX_CHUNK_BYTES: Final = 64 * 1024


class Chunk(msgspec.Struct, frozen=True):
    """One piece of a normalised document: its position and text."""

    index: int
    start: int
    end: int
    text: str


_decoder = msgspec.json.Decoder(Chunk)


def chunk_key(project: str, job: str, index: int) -> str:
    """The key of chunk `index` of a job: sortable, and one subject-filter level per part."""
    return f"{project}.{job}.{index:06d}"


class ChunkStore:
    """Reads and writes chunks in the `runwire-chunks` bucket (created on first use)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, nc: NATS, bucket: str = BUCKET) -> ChunkStore:
        """The bucket, created with file storage if it does not exist yet (safe from several processes)."""
        js = nc.jetstream()
        try:
            kv = await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket,
                    history=1,
                    storage=StorageType.FILE,
                    max_value_size=MAX_CHUNK_BYTES,
                    description="runwire: text chunks of ingested documents",
                )
            )
        return cls(kv)

    async def put(self, project: str, job: str, chunk: Chunk) -> None:
        """Store (or overwrite: indexing is idempotent) one chunk."""
        await self._kv.put(chunk_key(project, job, chunk.index), msgspec.json.encode(chunk))

    async def chunks(self, project: str, job: str) -> list[Chunk]:
        """Every chunk indexed for a job, in document order (empty if none)."""
        watcher = await self._kv.watch(f"{project}.{job}.*", ignore_deletes=True)
        found: list[Chunk] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.value:
                    found.append(_decoder.decode(entry.value))
        finally:
            with contextlib.suppress(nats.errors.Error):
                await watcher.stop()  # type: ignore[no-untyped-call]
        return sorted(found, key=lambda c: c.index)
