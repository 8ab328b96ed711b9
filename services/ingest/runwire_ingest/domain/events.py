"""The events of an ingest job (`ingest.job.*`): the only record of what happened to it."""

from __future__ import annotations

from typing import Literal

import msgspec

from runwire.contract.domain_event import DomainEvent

Stage = Literal["PREPROCESSING", "CHUNKING", "INDEXING"]
STAGES: tuple[Stage, ...] = ("PREPROCESSING", "CHUNKING", "INDEXING")
SOURCE = "/runwire/ingest"


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """How far processing got: normalised characters, chunks made, chunks stored in the index."""

    characters: int = 0
    chunks: int = 0
    indexed: int = 0


class JobCreated(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.created"):
    """A document was submitted; it carries the text so the job can be (re)processed from the stream."""

    name: str
    text: str
    size_bytes: int
    chunk_size: int
    chunk_overlap: int
    fingerprint: str


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


JobEvent = JobCreated | JobUpdated | JobCompleted | JobFailed | JobCancelled
TERMINAL_TYPES = ("ingest.job.completed", "ingest.job.failed", "ingest.job.cancelled")
