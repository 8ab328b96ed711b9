"""How child events map to workflow commands, and how job ids flow from inputs to an agent node."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runwire.contract.envelope import new_event
from runwire_workflow.children import child_id, job_ids, reaction
from runwire_workflow.domain.commands import CompleteNode, FailNode, RecordChildState, WorkflowCommand

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(type_: str, data: dict[str, Any]) -> Any:
    return new_event(type=type_, project="p1", source="/test", subject="wf-1-n", data=data, time=T0)


CASES: list[tuple[str, str, dict[str, Any], WorkflowCommand | None]] = [
    ("ingest.job.created", "ingest.job.created", {"name": "a"}, None),
    (
        "ingest.job.updated",
        "ingest.job.updated",
        {"stage": "CHUNKING", "progress": 0.1, "counts": {"characters": 90, "chunks": 3, "indexed": 0}},
        RecordChildState(
            node="n", child="wf-1-n", state={"status": "processing", "stage": "CHUNKING"}, seq=7, at=T0
        ),
    ),
    (
        "ingest.job.completed",
        "ingest.job.completed",
        {"counts": {"chunks": 3, "characters": 90, "indexed": 3}, "bucket": "runwire-chunks"},
        CompleteNode(node="n", output={"job_id": "wf-1-n", "chunks": 3, "characters": 90}, at=T0),
    ),
    (
        "ingest.job.failed",
        "ingest.job.failed",
        {"error": "empty"},
        FailNode(node="n", error="ingest job wf-1-n failed: empty", at=T0),
    ),
    (
        "ingest.job.cancelled",
        "ingest.job.cancelled",
        {"reason": "stop", "by": "u"},
        FailNode(node="n", error="ingest job wf-1-n was cancelled: stop", at=T0),
    ),
    (
        "agent.run.updated",
        "agent.run.updated",
        {"status": "waiting_approval", "steps": 2},
        RecordChildState(node="n", child="wf-1-n", state={"status": "waiting_approval"}, seq=7, at=T0),
    ),
    (
        "agent.run.completed",
        "agent.run.completed",
        {"answer": "42", "steps": 1},
        CompleteNode(node="n", output={"run_id": "wf-1-n", "answer": "42", "steps": 1}, at=T0),
    ),
    (
        "agent.run.failed",
        "agent.run.failed",
        {"error": "budget"},
        FailNode(node="n", error="agent run wf-1-n failed: budget", at=T0),
    ),
    (
        "agent.run.cancelled",
        "agent.run.cancelled",
        {"reason": "stop", "by": "u"},
        FailNode(node="n", error="agent run wf-1-n was cancelled: stop", at=T0),
    ),
    ("agent.step.updated", "agent.step.updated", {"index": 0}, None),
]


@pytest.mark.parametrize(("type_", "data", "command"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reaction(type_: str, data: dict[str, Any], command: WorkflowCommand | None) -> None:
    assert reaction("n", "wf-1-n", event(type_, data), 7, T0) == command


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("ingest.job.completed", {"counts": {"chunks": "many"}, "bucket": "b"}),
        ("ingest.job.failed", {}),
        ("agent.run.completed", {"answer": 42}),
    ],
)
def test_an_event_that_is_not_what_the_child_service_writes_asks_nothing(
    type_: str, data: dict[str, Any]
) -> None:
    assert reaction("n", "wf-1-n", event(type_, data), 7, T0) is None


def test_a_child_id_is_fixed_by_run_and_node() -> None:
    assert child_id("wf-abc", "load") == "wf-abc-load"


def test_job_ids_are_found_through_gates_and_delays() -> None:
    inputs = {
        "review": {"approved": True, "inputs": {"wait": {"inputs": {"load": {"job_id": "j1", "chunks": 2}}}}},
        "other": {"job_id": "j2"},
        "again": {"job_id": "j1"},
    }
    assert job_ids(inputs) == ["j1", "j2"]
