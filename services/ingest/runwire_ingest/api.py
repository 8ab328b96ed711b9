"""The ingest API's bodies (HTTP and NATS commands share them).

The create request and command, which other services send too, are contract (runwire.contract.ingest).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from runwire.contract.chunks import Chunk
from runwire.contract.ingest import Counts, JobReply, Stage
from runwire_ingest.domain.state import Job


class JobView(JobReply, kw_only=True):
    """A job as its events describe it now (the document text itself is left out).

    A JobReply first (id, project, status): what other services read of a command's reply.
    """

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
