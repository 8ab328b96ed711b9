"""What the ingest service and the services that use it say to each other.

The create command (`runwire.cmd.ingest.create`, whose fields are also the HTTP body), the part of
its reply other services read, and the job events they react to. Owned here rather than by
runwire_ingest so that a service creating jobs imports no code of the ingest service.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.envelope import Token

SOURCE: Final = "/runwire/ingest"

JobStatus = Literal["new", "queued", "processing", "completed", "failed", "cancelled"]
Stage = Literal["PREPROCESSING", "CHUNKING", "INDEXING"]
STAGES: Final[tuple[Stage, ...]] = ("PREPROCESSING", "CHUNKING", "INDEXING")

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


class JobReply(msgspec.Struct, kw_only=True):
    """What another service reads of the job a command replies with (the full view has more fields)."""

    id: str
    project: str
    status: JobStatus


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """How far processing got: normalised characters, chunks made, chunks stored in the index."""

    characters: int = 0
    chunks: int = 0
    indexed: int = 0


class JobUpdated(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.updated"):
    """Processing reached a stage or moved on within it."""

    stage: Stage
    progress: float
    counts: Counts


class JobCompleted(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.completed"):
    """Every chunk is in the index."""

    counts: Counts
    bucket: str


class JobFailed(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.failed"):
    """Processing stopped on an error; `error` says which."""

    error: str
    stage: Stage | None = None


class JobCancelled(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.cancelled"):
    """A user (or a workflow) cancelled the job before it finished."""

    reason: str
    by: str
    stage: Stage | None = None


# Every job event but its creation (which carries the whole document): what followers react to.
JobProgressEvent = JobUpdated | JobCompleted | JobFailed | JobCancelled
JOB_PROGRESS: Final = EventCodec[JobProgressEvent](JobProgressEvent, SOURCE)
