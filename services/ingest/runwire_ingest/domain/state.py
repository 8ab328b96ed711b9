"""An ingest job's state as the fold of its events (`evolve`), and the questions asked of it."""

from __future__ import annotations

from datetime import datetime

import msgspec

from runwire.contract.ingest import (
    Counts,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobStatus,
    JobUpdated,
    Stage,
)
from runwire_ingest.domain.events import JobCreated, JobEvent

TERMINAL: frozenset[JobStatus] = frozenset({"completed", "failed", "cancelled"})


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one job; `new` until its creation event."""

    project: str
    id: str
    status: JobStatus = "new"
    name: str = ""
    text: str = ""
    size_bytes: int = 0
    chunk_size: int = 0
    chunk_overlap: int = 0
    fingerprint: str = ""
    stage: Stage | None = None
    progress: float = 0.0
    counts: Counts = Counts()
    error: str | None = None
    cancel_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.status != "new"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def initial(project: str, job_id: str) -> Job:
    """The state before any event."""
    return Job(project=project, id=job_id)


def evolve(job: Job, event: JobEvent) -> Job:
    """The job after `event` (pure)."""
    match event:
        case JobCreated():
            return msgspec.structs.replace(
                job,
                status="queued",
                name=event.name,
                text=event.text,
                size_bytes=event.size_bytes,
                chunk_size=event.chunk_size,
                chunk_overlap=event.chunk_overlap,
                fingerprint=event.fingerprint,
                created_at=event.at,
                updated_at=event.at,
            )
        case JobUpdated():
            return msgspec.structs.replace(
                job,
                status="processing",
                stage=event.stage,
                progress=event.progress,
                counts=event.counts,
                updated_at=event.at,
            )
        case JobCompleted():
            return msgspec.structs.replace(
                job, status="completed", progress=1.0, counts=event.counts, updated_at=event.at
            )
        case JobFailed():
            return msgspec.structs.replace(job, status="failed", error=event.error, updated_at=event.at)
        case JobCancelled():
            return msgspec.structs.replace(
                job, status="cancelled", cancel_reason=f"{event.reason} (by {event.by})", updated_at=event.at
            )
