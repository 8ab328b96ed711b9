"""The ingest API's request and response bodies (HTTP and NATS commands share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from runwire.contract.chunks import Chunk
from runwire.contract.envelope import Token
from runwire_ingest.domain.events import Counts, Stage
from runwire_ingest.domain.state import Job, JobStatus

ChunkSize = Annotated[int, msgspec.Meta(ge=50, le=8000, description="characters per chunk")]
ChunkOverlap = Annotated[int, msgspec.Meta(ge=0, le=4000, description="characters repeated between chunks")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, description="document name")]


class CreateJobRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A text document to ingest; chunking defaults come from RUNWIRE_INGEST_CHUNK_SIZE / _OVERLAP."""

    text: Annotated[str, msgspec.Meta(min_length=1, description="the document, UTF-8 text")]
    name: Name = "document.txt"
    chunk_size: ChunkSize | None = None
    chunk_overlap: ChunkOverlap | None = None


class CreateJobCommand(CreateJobRequest, kw_only=True, forbid_unknown_fields=True):
    """`runwire.cmd.ingest.create`: create the job `id` (idempotent for the same request)."""

    project: Token
    id: Token


class JobView(msgspec.Struct, kw_only=True):
    """A job as its events describe it now (the document text itself is left out)."""

    id: str
    project: str
    status: JobStatus
    name: str
    stage: Stage | None
    progress: float
    counts: Counts
    chunk_size: int
    chunk_overlap: int
    size_bytes: int
    error: str | None
    cancel_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int


class JobList(msgspec.Struct):
    """A project's jobs, oldest first."""

    jobs: list[JobView]


class ChunkList(msgspec.Struct):
    """What INDEXING stored for a job."""

    job: str
    chunks: list[Chunk]


def job_view(job: Job, version: int) -> JobView:
    """The API projection of a job's state."""
    return JobView(
        id=job.id,
        project=job.project,
        status=job.status,
        name=job.name,
        stage=job.stage,
        progress=job.progress,
        counts=job.counts,
        chunk_size=job.chunk_size,
        chunk_overlap=job.chunk_overlap,
        size_bytes=job.size_bytes,
        error=job.error,
        cancel_reason=job.cancel_reason,
        created_at=job.created_at,
        updated_at=job.updated_at,
        version=version,
    )
