"""The ingest service's tunables, from `RUNWIRE_INGEST_*` variables (see docs/domain-services.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from runwire.ops.tunables import load_tunables

Seconds = Annotated[float, msgspec.Meta(ge=0, le=60)]


class IngestConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Limits, chunking defaults and pacing of the ingest service."""

    max_document_bytes: Annotated[int, msgspec.Meta(ge=1, le=512 * 1024)] = 256 * 1024
    """Largest document (UTF-8 bytes) a job accepts; it travels inside the created event."""
    chunk_size: Annotated[int, msgspec.Meta(ge=50, le=8000)] = 800
    """Default characters per chunk."""
    chunk_overlap: Annotated[int, msgspec.Meta(ge=0, le=4000)] = 100
    """Default characters a chunk repeats from the previous one."""
    stage_delay_seconds: Seconds = 0.05
    """Pause after each of PREPROCESSING and CHUNKING, so that stages are visible live."""
    chunk_delay_seconds: Seconds = 0.02
    """Pause after each indexed chunk: cancellation is checked there."""
    progress_updates: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    """At most this many `ingest.job.updated` events during INDEXING."""
    share_work: bool = True
    """Take jobs from the service's work queue shared by its replicas: new ones, and those of a
    replica that died. False: drive only the jobs created through this process, take over none."""


def load_config(environ: Mapping[str, str] | None = None) -> IngestConfig:
    """The tunables from the environment (RUNWIRE_INGEST_CHUNK_SIZE etc.)."""
    return load_tunables(IngestConfig, "RUNWIRE_INGEST_", environ)
