"""The chunk index: text chunks of ingested documents in a JetStream key-value bucket.

The ingest service writes a job's chunks here (its INDEXING stage) and the agent's search tool
reads them, so the bucket and key scheme `<project>.<job>.<index>` are defined once, here. Reads go
through the bucket's stream with the ordered StreamReader (a subject filter per job).
"""

from __future__ import annotations

import contextlib
from typing import Final

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from runwire.contract.chunks import MAX_CHUNK_BYTES, Chunk, chunk_key
from runwire.jetstream.key_value import open_bucket
from runwire.jetstream.stream_reader import StreamReader

_decoder = msgspec.json.Decoder(Chunk)

BUCKET: Final = "runwire-chunks"


class ChunkStore:
    """Reads and writes chunks in the `runwire-chunks` bucket (created on first use)."""

    def __init__(self, nc: NATS, kv: KeyValue, bucket: str) -> None:
        self._nc = nc
        self._kv = kv
        self._bucket = bucket

    @classmethod
    async def open(cls, nc: NATS, bucket: str = BUCKET) -> ChunkStore:
        """The bucket, created with file storage and EVENTS' replicas if it does not exist yet."""
        kv = await open_bucket(
            nc,
            KeyValueConfig(
                bucket=bucket,
                history=1,
                storage=StorageType.FILE,
                max_value_size=MAX_CHUNK_BYTES,
                description="runwire: text chunks of ingested documents",
            ),
        )
        return cls(nc, kv, bucket)

    async def put(self, project: str, job: str, chunk: Chunk) -> None:
        """Store (or overwrite: indexing is idempotent) one chunk."""
        await self._kv.put(chunk_key(project, job, chunk.index), msgspec.json.encode(chunk))

    async def chunks(self, project: str, job: str) -> list[Chunk]:
        """Every chunk indexed for a job, in document order (empty if none)."""
        subject = f"$KV.{self._bucket}.{project}.{job}.*"
        reader = StreamReader(self._nc, f"KV_{self._bucket}", [subject], start_seq=1)
        found: dict[str, Chunk] = {}
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                for message in batch:
                    if message.headers and message.headers.get("KV-Operation") in ("DEL", "PURGE"):
                        found.pop(message.subject, None)
                    elif message.data:
                        found[message.subject] = _decoder.decode(message.data)
        return sorted(found.values(), key=lambda c: c.index)
