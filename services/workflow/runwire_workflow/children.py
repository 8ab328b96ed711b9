"""How a run's nodes relate to their children: child ids, and which child events mean what to the run.

Pure: the process manager feeds each child event it reads from JetStream through `reaction` and
executes the command it returns (live, and again while catching up after a restart: idempotent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from runwire.contract.envelope import CloudEvent
from runwire_workflow.domain.commands import CompleteNode, FailNode, RecordChildState, WorkflowCommand

# The child event types the process manager reads, as type patterns.
CHILD_EVENT_PATTERNS: Final = ("ingest.job.>", "agent.run.>")


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


def reaction(node: str, child: str, event: CloudEvent, seq: int, at: datetime) -> WorkflowCommand | None:
    """The command a child's event asks of the run (None for events that change nothing)."""
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    match event.type:
        case "ingest.job.updated":
            state = {"status": "processing", "stage": data.get("stage")}
            return RecordChildState(node=node, child=child, state=state, seq=seq, at=at)
        case "ingest.job.completed":
            counts = data.get("counts") or {}
            output = {
                "job_id": child,
                "chunks": counts.get("chunks", 0),
                "characters": counts.get("characters", 0),
            }
            return CompleteNode(node=node, output=output, at=at)
        case "ingest.job.failed":
            return FailNode(node=node, error=f"ingest job {child} failed: {data.get('error')}", at=at)
        case "ingest.job.cancelled":
            return FailNode(node=node, error=f"ingest job {child} was cancelled: {data.get('reason')}", at=at)
        case "agent.run.updated":
            return RecordChildState(
                node=node, child=child, state={"status": data.get("status")}, seq=seq, at=at
            )
        case "agent.run.completed":
            output = {"run_id": child, "answer": data.get("answer"), "steps": data.get("steps")}
            return CompleteNode(node=node, output=output, at=at)
        case "agent.run.failed":
            return FailNode(node=node, error=f"agent run {child} failed: {data.get('error')}", at=at)
        case "agent.run.cancelled":
            return FailNode(node=node, error=f"agent run {child} was cancelled: {data.get('reason')}", at=at)
    return None
