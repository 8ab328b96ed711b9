"""The rules of an ingest job: which events each command produces in each state, or why it is refused."""

from __future__ import annotations

from runwire.contract.ingest import STAGES, JobCancelled, JobCompleted, JobFailed, JobUpdated
from runwire.contract.rejections import IdempotencyConflict, InvalidCommand, InvalidTransition, NotFound
from runwire_ingest.domain.commands import (
    CancelJob,
    CompleteJob,
    CreateJob,
    FailJob,
    JobCommand,
    RecordProgress,
)
from runwire_ingest.domain.events import JobCreated, JobEvent
from runwire_ingest.domain.state import Job


def decide(command: JobCommand, job: Job) -> list[JobEvent]:
    """The events `command` produces against `job` (pure); raises a Rejected subclass to refuse it."""
    match command:
        case CreateJob():
            return _create(command, job)
        case RecordProgress():
            return _progress(command, _active(job, "record progress for"))
        case CompleteJob():
            active = _active(job, "complete")
            if active.status != "processing" or active.stage != "INDEXING":
                raise InvalidTransition(
                    f"ingest job {job.id} is at {active.stage or active.status}; "
                    "it completes only from INDEXING"
                )
            return [JobCompleted(at=command.at, counts=command.counts, bucket=command.bucket)]
        case FailJob():
            active = _active(job, "fail")
            return [JobFailed(at=command.at, error=command.error, stage=active.stage)]
        case CancelJob():
            active = _active(job, "cancel")
            return [JobCancelled(at=command.at, reason=command.reason, by=command.by, stage=active.stage)]


def _create(command: CreateJob, job: Job) -> list[JobEvent]:
    if job.exists:
        if job.fingerprint == command.fingerprint:
            return []
        raise IdempotencyConflict(
            f"ingest job {job.id} was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        )
    if command.chunk_overlap >= command.chunk_size:
        raise InvalidCommand(
            f"chunk_overlap ({command.chunk_overlap}) must be smaller than chunk_size ({command.chunk_size})",
            field="chunk_overlap",
        )
    return [
        JobCreated(
            at=command.at,
            name=command.name,
            text=command.text,
            size_bytes=len(command.text.encode()),
            chunk_size=command.chunk_size,
            chunk_overlap=command.chunk_overlap,
            fingerprint=command.fingerprint,
        )
    ]


def _active(job: Job, verb: str) -> Job:
    """The job if it exists and has not finished; otherwise the rejection that explains why not."""
    if not job.exists:
        raise NotFound(f"ingest job {job.id} not found in project {job.project}")
    if job.terminal:
        raise InvalidTransition(
            f"cannot {verb} ingest job {job.id}: it is already {job.status} "
            "(only queued or processing jobs can change)"
        )
    return job


def _progress(command: RecordProgress, job: Job) -> list[JobEvent]:
    """Stages only move forward; a repeat of an earlier stage (a resumed processor) records nothing."""
    current = STAGES.index(job.stage) if job.stage else -1
    reached = STAGES.index(command.stage)
    if not 0.0 <= command.progress <= 1.0:
        raise InvalidCommand(f"progress must be within 0..1, got {command.progress}", field="progress")
    if reached < current:
        return []
    progress = max(command.progress, job.progress) if reached == current else command.progress
    if reached == current and progress == job.progress and command.counts == job.counts:
        return []
    return [JobUpdated(at=command.at, stage=command.stage, progress=progress, counts=command.counts)]
