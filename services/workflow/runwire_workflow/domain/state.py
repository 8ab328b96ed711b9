"""A workflow run's state as the fold of its events (`evolve`), and which nodes are ready."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from runwire_workflow.domain.definition import Definition, kind_of
from runwire_workflow.domain.events import (
    GateApproved,
    GateAutoApproved,
    GateAutoRejected,
    GatePaused,
    GateRejected,
    NodeCompleted,
    NodeFailed,
    NodeStarted,
    NodeStateUpdated,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    RunResumed,
    RunStatus,
    RunUpdated,
    WorkflowEvent,
)

NodeStatus = Literal["pending", "running", "paused", "completed", "failed", "cancelled"]
TERMINAL: frozenset[RunStatus] = frozenset({"completed", "failed", "cancelled"})


class NodeState(msgspec.Struct, frozen=True, kw_only=True):
    """One node of one run."""

    id: str
    kind: str
    status: NodeStatus = "pending"
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    child: str | None = None
    child_state: dict[str, Any] = {}
    child_seq: int = 0
    deadline: datetime | None = None
    decided_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class WorkflowRun(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one run; `new` until its creation event."""

    project: str
    id: str
    status: RunStatus = "new"
    definition: Definition | None = None
    nodes: dict[str, NodeState] = {}
    fingerprint: str = ""
    outputs: dict[str, dict[str, Any]] | None = None
    error: str | None = None
    failed_node: str | None = None
    cancel_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.status != "new"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def completed_count(self) -> int:
        return sum(1 for n in self.nodes.values() if n.status == "completed")

    def ready(self) -> list[str]:
        """Pending nodes whose dependencies all completed, in definition order (none once terminal)."""
        if self.definition is None or self.terminal:
            return []
        return [
            node.id
            for node in self.definition.nodes
            if self.nodes[node.id].status == "pending"
            and all(self.nodes[dep].status == "completed" for dep in node.needs)
        ]

    def inputs_of(self, node_id: str) -> dict[str, Any]:
        """What flows into a node: the outputs of the nodes it needs, by node id."""
        assert self.definition is not None
        return {dep: self.nodes[dep].output or {} for dep in self.definition.node(node_id).needs}


def initial(project: str, run_id: str) -> WorkflowRun:
    """The state before any event."""
    return WorkflowRun(project=project, id=run_id)


def _node(run: WorkflowRun, node_id: str, **changes: Any) -> dict[str, NodeState]:
    return {**run.nodes, node_id: msgspec.structs.replace(run.nodes[node_id], **changes)}


def _stop_unfinished(run: WorkflowRun, at: datetime) -> dict[str, NodeState]:
    """Nodes still running or paused when the run ends are cancelled with it."""
    return {
        node_id: msgspec.structs.replace(node, status="cancelled", finished_at=at)
        if node.status in ("running", "paused")
        else node
        for node_id, node in run.nodes.items()
    }


def evolve(run: WorkflowRun, event: WorkflowEvent) -> WorkflowRun:
    """The run after `event` (pure)."""
    replace = msgspec.structs.replace
    match event:
        case RunCreated():
            nodes = {n.id: NodeState(id=n.id, kind=kind_of(n)) for n in event.definition.nodes}
            return replace(
                run,
                status="running",
                definition=event.definition,
                nodes=nodes,
                fingerprint=event.fingerprint,
                created_at=event.at,
                updated_at=event.at,
            )
        case RunUpdated():
            return replace(run, status=event.status, updated_at=event.at)
        case RunResumed():
            paused = any(n.status == "paused" for n in run.nodes.values())
            return replace(run, status="paused" if paused else "running", updated_at=event.at)
        case NodeStarted():
            nodes = _node(
                run,
                event.node,
                status="running",
                input=event.input,
                deadline=event.deadline,
                started_at=event.at,
            )
            return replace(run, nodes=nodes, updated_at=event.at)
        case NodeStateUpdated():
            nodes = _node(run, event.node, child=event.child, child_state=event.state, child_seq=event.seq)
            return replace(run, nodes=nodes, updated_at=event.at)
        case NodeCompleted():
            nodes = _node(run, event.node, status="completed", output=event.output, finished_at=event.at)
            return replace(run, nodes=nodes, updated_at=event.at)
        case NodeFailed():
            nodes = _node(run, event.node, status="failed", error=event.error, finished_at=event.at)
            return replace(run, nodes=nodes, updated_at=event.at)
        case GatePaused():
            return replace(
                run,
                nodes=_node(run, event.node, status="paused", deadline=event.deadline),
                updated_at=event.at,
            )
        case GateApproved() | GateRejected():
            return replace(run, nodes=_node(run, event.node, decided_by=event.by), updated_at=event.at)
        case GateAutoApproved() | GateAutoRejected():
            return replace(run, nodes=_node(run, event.node, decided_by="timeout"), updated_at=event.at)
        case RunCompleted():
            return replace(run, status="completed", outputs=event.outputs, updated_at=event.at)
        case RunFailed():
            return replace(
                run,
                status="failed",
                error=event.error,
                failed_node=event.node,
                nodes=_stop_unfinished(run, event.at),
                updated_at=event.at,
            )
        case RunCancelled():
            return replace(
                run,
                status="cancelled",
                cancel_reason=f"{event.reason} (by {event.by})",
                nodes=_stop_unfinished(run, event.at),
                updated_at=event.at,
            )
