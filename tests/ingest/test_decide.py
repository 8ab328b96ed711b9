"""The ingest job's rules, table-driven: every command against every state it may meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from runwire.contract.ingest import Counts, JobCancelled, JobCompleted, JobFailed, JobUpdated, Stage
from runwire.contract.rejections import (
    IdempotencyConflict,
    InvalidCommand,
    InvalidTransition,
    NotFound,
    Rejected,
)
from runwire_ingest.domain.commands import (
    CancelJob,
    CompleteJob,
    CreateJob,
    FailJob,
    JobCommand,
    RecordProgress,
)
from runwire_ingest.domain.decide import decide
from runwire_ingest.domain.events import JobCreated, JobEvent
from runwire_ingest.domain.state import Job, evolve, initial

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
COUNTS = Counts(characters=10, chunks=4, indexed=2)

NEW = initial("p1", "job-1")
CREATED = JobCreated(
    at=T0, name="a.txt", text="hello world", size_bytes=11, chunk_size=100, chunk_overlap=10, fingerprint="fp"
)
QUEUED = evolve(NEW, CREATED)
PREPROCESSING = evolve(
    QUEUED, JobUpdated(at=T0, stage="PREPROCESSING", progress=0.05, counts=Counts(characters=10))
)
CHUNKING = evolve(
    PREPROCESSING, JobUpdated(at=T0, stage="CHUNKING", progress=0.1, counts=Counts(characters=10, chunks=4))
)
INDEXING = evolve(CHUNKING, JobUpdated(at=T0, stage="INDEXING", progress=0.55, counts=COUNTS))
COMPLETED = evolve(INDEXING, JobCompleted(at=T0, counts=COUNTS, bucket="b"))
FAILED = evolve(INDEXING, JobFailed(at=T0, error="boom", stage="INDEXING"))
CANCELLED = evolve(CHUNKING, JobCancelled(at=T0, reason="stop", by="u", stage="CHUNKING"))

CREATE = CreateJob(
    name="a.txt", text="hello world", chunk_size=100, chunk_overlap=10, fingerprint="fp", at=T1
)
CANCEL = CancelJob(reason="no longer needed", by="alice", at=T1)
FAIL = FailJob(error="disk full", at=T1)
COMPLETE = CompleteJob(counts=COUNTS, bucket="runwire-chunks", at=T1)


def progress(stage: Stage, value: float, counts: Counts = COUNTS) -> RecordProgress:
    return RecordProgress(stage=stage, progress=value, counts=counts, at=T1)


def finished(verb: str, status: str) -> InvalidTransition:
    return InvalidTransition(
        f"cannot {verb} ingest job job-1: it is already {status} (only queued or processing jobs can change)"
    )


MISSING = NotFound("ingest job job-1 not found in project p1")

CASES: list[tuple[str, Job, JobCommand, list[JobEvent] | Rejected]] = [
    # create
    ("create new job", NEW, CREATE, [msgspec.structs.replace(CREATED, at=T1)]),
    ("create repeated with same request is a no-op", QUEUED, CREATE, []),
    ("create repeated on a finished job is a no-op", COMPLETED, CREATE, []),
    (
        "create with reused key and other request",
        QUEUED,
        msgspec.structs.replace(CREATE, fingerprint="other"),
        IdempotencyConflict(
            "ingest job job-1 was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        ),
    ),
    (
        "create with overlap not below size",
        NEW,
        msgspec.structs.replace(CREATE, chunk_overlap=100),
        InvalidCommand("chunk_overlap (100) must be smaller than chunk_size (100)", field="chunk_overlap"),
    ),
    # record progress
    ("progress on missing job", NEW, progress("PREPROCESSING", 0.05), MISSING),
    (
        "first progress starts processing",
        QUEUED,
        progress("PREPROCESSING", 0.05, Counts(characters=10)),
        [JobUpdated(at=T1, stage="PREPROCESSING", progress=0.05, counts=Counts(characters=10))],
    ),
    (
        "next stage",
        PREPROCESSING,
        progress("CHUNKING", 0.1),
        [JobUpdated(at=T1, stage="CHUNKING", progress=0.1, counts=COUNTS)],
    ),
    (
        "progress within a stage",
        INDEXING,
        progress("INDEXING", 0.8, Counts(characters=10, chunks=4, indexed=3)),
        [
            JobUpdated(
                at=T1, stage="INDEXING", progress=0.8, counts=Counts(characters=10, chunks=4, indexed=3)
            )
        ],
    ),
    ("earlier stage after resume records nothing", INDEXING, progress("CHUNKING", 0.1), []),
    ("same progress and counts records nothing", INDEXING, progress("INDEXING", 0.55), []),
    (
        "progress never goes back within a stage",
        INDEXING,
        progress("INDEXING", 0.3, Counts(characters=10, chunks=4, indexed=1)),
        [
            JobUpdated(
                at=T1, stage="INDEXING", progress=0.55, counts=Counts(characters=10, chunks=4, indexed=1)
            )
        ],
    ),
    (
        "progress out of range",
        INDEXING,
        progress("INDEXING", 1.5),
        InvalidCommand("progress must be within 0..1, got 1.5", field="progress"),
    ),
    (
        "progress after completion",
        COMPLETED,
        progress("INDEXING", 1.0),
        finished("record progress for", "completed"),
    ),
    ("progress after failure", FAILED, progress("INDEXING", 1.0), finished("record progress for", "failed")),
    (
        "progress after cancel",
        CANCELLED,
        progress("INDEXING", 0.9),
        finished("record progress for", "cancelled"),
    ),
    # complete
    ("complete missing job", NEW, COMPLETE, MISSING),
    (
        "complete a queued job",
        QUEUED,
        COMPLETE,
        InvalidTransition("ingest job job-1 is at queued; it completes only from INDEXING"),
    ),
    (
        "complete before indexing",
        CHUNKING,
        COMPLETE,
        InvalidTransition("ingest job job-1 is at CHUNKING; it completes only from INDEXING"),
    ),
    (
        "complete while indexing",
        INDEXING,
        COMPLETE,
        [JobCompleted(at=T1, counts=COUNTS, bucket="runwire-chunks")],
    ),
    ("complete twice", COMPLETED, COMPLETE, finished("complete", "completed")),
    ("complete after cancel", CANCELLED, COMPLETE, finished("complete", "cancelled")),
    # fail
    ("fail missing job", NEW, FAIL, MISSING),
    ("fail queued job", QUEUED, FAIL, [JobFailed(at=T1, error="disk full", stage=None)]),
    (
        "fail while indexing names the stage",
        INDEXING,
        FAIL,
        [JobFailed(at=T1, error="disk full", stage="INDEXING")],
    ),
    ("fail after completion", COMPLETED, FAIL, finished("fail", "completed")),
    ("fail after failure", FAILED, FAIL, finished("fail", "failed")),
    # cancel
    ("cancel missing job", NEW, CANCEL, MISSING),
    (
        "cancel queued job",
        QUEUED,
        CANCEL,
        [JobCancelled(at=T1, reason="no longer needed", by="alice", stage=None)],
    ),
    (
        "cancel mid processing names the stage",
        INDEXING,
        CANCEL,
        [JobCancelled(at=T1, reason="no longer needed", by="alice", stage="INDEXING")],
    ),
    ("cancel completed job", COMPLETED, CANCEL, finished("cancel", "completed")),
    ("cancel failed job", FAILED, CANCEL, finished("cancel", "failed")),
    ("cancel cancelled job", CANCELLED, CANCEL, finished("cancel", "cancelled")),
]


@pytest.mark.parametrize(("state", "command", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(state: Job, command: JobCommand, expected: list[JobEvent] | Rejected) -> None:
    if isinstance(expected, Rejected):
        with pytest.raises(Rejected) as caught:
            decide(command, state)
        assert caught.value == expected
        assert caught.value.status == expected.status
    else:
        assert decide(command, state) == expected


EVOLVE_CASES: list[tuple[str, Job, JobEvent, dict[str, object]]] = [
    (
        "created queues the job",
        NEW,
        CREATED,
        {"status": "queued", "name": "a.txt", "text": "hello world", "chunk_size": 100, "created_at": T0},
    ),
    (
        "updated moves stage and progress",
        QUEUED,
        JobUpdated(at=T1, stage="CHUNKING", progress=0.1, counts=COUNTS),
        {"status": "processing", "stage": "CHUNKING", "progress": 0.1, "counts": COUNTS, "updated_at": T1},
    ),
    (
        "completed sets full progress",
        INDEXING,
        JobCompleted(at=T1, counts=COUNTS, bucket="b"),
        {"status": "completed", "progress": 1.0, "updated_at": T1},
    ),
    (
        "failed keeps the error",
        INDEXING,
        JobFailed(at=T1, error="boom"),
        {"status": "failed", "error": "boom"},
    ),
    (
        "cancelled keeps who and why",
        CHUNKING,
        JobCancelled(at=T1, reason="stop", by="u"),
        {"status": "cancelled", "cancel_reason": "stop (by u)", "stage": "CHUNKING"},
    ),
]


@pytest.mark.parametrize(
    ("state", "event", "fields"), [c[1:] for c in EVOLVE_CASES], ids=[c[0] for c in EVOLVE_CASES]
)
def test_evolve(state: Job, event: JobEvent, fields: dict[str, object]) -> None:
    after = evolve(state, event)
    assert {name: getattr(after, name) for name in fields} == fields


def test_state_is_the_fold_of_its_events() -> None:
    events: list[JobEvent] = [CREATED, JobUpdated(at=T0, stage="INDEXING", progress=0.5, counts=COUNTS)]
    state = NEW
    for event in events:
        state = evolve(state, event)
    assert state == msgspec.structs.replace(
        QUEUED, status="processing", stage="INDEXING", progress=0.5, counts=COUNTS, updated_at=T0
    )
