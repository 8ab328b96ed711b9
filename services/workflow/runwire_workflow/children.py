"""How a run's nodes relate to their children: child ids, and which child events mean what to the run.

Pure: the process manager feeds each child event it reads from JetStream through `reaction` and
executes the command it returns (live, and again while catching up after a restart: idempotent).
Child events are read as the ingest and agent contracts state them (runwire.contract.ingest, .agent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from runwire.contract.agent import (
    RUN_PROGRESS,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunProgressEvent,
    RunUpdated,
)
from runwire.contract.envelope import CloudEvent
from runwire.contract.ingest import (
    JOB_PROGRESS,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobProgressEvent,
    JobUpdated,
)
from runwire_workflow.domain.commands import CompleteNode, FailNode, RecordChildState, WorkflowCommand

# The child event types the process manager reads, as type patterns.
CHILD_EVENT_PATTERNS: Final = ("ingest.job.>", "agent.run.>")
ChildEvent = JobProgressEvent | RunProgressEvent


def child_id(run_id: str, node_id: str) -> str:
    """The id of the ingest job or agent run a node creates: fixed, so a re-sent create is idempotent."""
    return f"{run_id}-{node_id}"


def job_ids(value: Any) -> list[str]:
    """Every ingest job id found in a node's input (outputs of ingest nodes, passed on by gates/delays)."""
    found: list[str] = []
    if isinstance(value, dict):
        job = value.get("job_id")
        if isinstance(job, str):
            found.append(job)
        for key, item in value.items():
            if key != "job_id":
                found.extend(job_ids(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(job_ids(item))
    return list(dict.fromkeys(found))


def child_event(event: CloudEvent) -> ChildEvent | None:
    """The contract payload of a child's event; None for other types and for data that is not it."""
    try:
        return JOB_PROGRESS.decode(event) or RUN_PROGRESS.decode(event)
    except msgspec.ValidationError:
        return None  # not what the child service writes (e.g. published by hand): not the child's word


def reaction(node: str, child: str, event: CloudEvent, seq: int, at: datetime) -> WorkflowCommand | None:
    """The command a child's event asks of the run (None for events that change nothing)."""
    match child_event(event):
        case JobUpdated(stage=stage):
            state = {"status": "processing", "stage": stage}
            return RecordChildState(node=node, child=child, state=state, seq=seq, at=at)
        case JobCompleted(counts=counts):
            output = {"job_id": child, "chunks": counts.chunks, "characters": counts.characters}
            return CompleteNode(node=node, output=output, at=at)
        case JobFailed(error=error):
            return FailNode(node=node, error=f"ingest job {child} failed: {error}", at=at)
        case JobCancelled(reason=reason):
            return FailNode(node=node, error=f"ingest job {child} was cancelled: {reason}", at=at)
        case RunUpdated(status=status):
            return RecordChildState(node=node, child=child, state={"status": status}, seq=seq, at=at)
        case RunCompleted(answer=answer, steps=steps):
            output = {"run_id": child, "answer": answer, "steps": steps}
            return CompleteNode(node=node, output=output, at=at)
        case RunFailed(error=error):
            return FailNode(node=node, error=f"agent run {child} failed: {error}", at=at)
        case RunCancelled(reason=reason):
            return FailNode(node=node, error=f"agent run {child} was cancelled: {reason}", at=at)
    return None
