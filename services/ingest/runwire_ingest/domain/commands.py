"""What may be asked of an ingest job; times come in with the command (the domain reads no clock)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from runwire.contract.ingest import Counts, Stage


class CreateJob(msgspec.Struct, frozen=True, kw_only=True):
    """Submit a document; `fingerprint` identifies the request for idempotent retries."""

    name: str
    text: str
    chunk_size: int
    chunk_overlap: int
    fingerprint: str
    at: datetime


class RecordProgress(msgspec.Struct, frozen=True, kw_only=True):
    """The processor reached `stage` with these counts."""

    stage: Stage
    progress: float
    counts: Counts
    at: datetime


class CompleteJob(msgspec.Struct, frozen=True, kw_only=True):
    """The processor indexed every chunk into `bucket`."""

    counts: Counts
    bucket: str
    at: datetime


class FailJob(msgspec.Struct, frozen=True, kw_only=True):
    """The processor could not finish."""

    error: str
    at: datetime


class CancelJob(msgspec.Struct, frozen=True, kw_only=True):
    """Stop the job; the processor notices between chunks."""

    reason: str
    by: str
    at: datetime


JobCommand = CreateJob | RecordProgress | CompleteJob | FailJob | CancelJob
