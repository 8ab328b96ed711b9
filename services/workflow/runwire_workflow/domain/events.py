"""The events of a workflow run: `workflow.run.*`, `workflow.node.*`, `.node_state.*` and `.gate.*`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from runwire.contract.domain_event import DomainEvent
from runwire_workflow.domain.definition import Definition

SOURCE = "/runwire/workflow"

RunStatus = Literal["new", "running", "paused", "completed", "failed", "cancelled"]
ResumeReason = Literal["restarted", "gate_approved", "gate_auto_approved"]


class RunCreated(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.created"):
    """A run of `definition` was requested."""

    definition: Definition
    fingerprint: str


class RunUpdated(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.updated"):
    """The run progressed (a node completed) or paused on a gate."""

    status: RunStatus
    completed: int
    total: int


class RunResumed(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.resumed"):
    """The run goes on: after a gate's approval, or picked up again after the service restarted."""

    reason: ResumeReason
    node: str | None = None


class NodeStarted(DomainEvent, frozen=True, kw_only=True, tag="workflow.node.started"):
    """A node's dependencies completed; `input` holds their outputs; a delay has its `deadline`."""

    node: str
    kind: str
    input: dict[str, Any]
    deadline: datetime | None = None


class NodeStateUpdated(DomainEvent, frozen=True, kw_only=True, tag="workflow.node_state.updated"):
    """What a node's child (an ingest job or agent run) is doing, mirrored from the child's events.

    `seq` is the stream sequence of the child event mirrored (0 for the command's reply).
    """

    node: str
    child: str
    state: dict[str, Any]
    seq: int


class NodeCompleted(DomainEvent, frozen=True, kw_only=True, tag="workflow.node.completed"):
    """A node finished; its `output` flows to the nodes that need it."""

    node: str
    output: dict[str, Any]


class NodeFailed(DomainEvent, frozen=True, kw_only=True, tag="workflow.node.failed"):
    """A node failed (its child failed or was cancelled, a gate was rejected, a command was refused)."""

    node: str
    error: str


class GatePaused(DomainEvent, frozen=True, kw_only=True, tag="workflow.gate.paused"):
    """A gate waits for a human; past `deadline` (if any) it decides `on_timeout` by itself."""

    node: str
    message: str
    deadline: datetime | None
    on_timeout: Literal["approve", "reject"]


class GateApproved(DomainEvent, frozen=True, kw_only=True, tag="workflow.gate.approved"):
    """Someone approved the gate."""

    node: str
    by: str
    comment: str = ""


class GateRejected(DomainEvent, frozen=True, kw_only=True, tag="workflow.gate.rejected"):
    """Someone rejected the gate; the run fails."""

    node: str
    by: str
    reason: str


class GateAutoApproved(DomainEvent, frozen=True, kw_only=True, tag="workflow.gate.auto_approved"):
    """Nobody decided before the deadline; the gate was configured to approve then."""

    node: str
    deadline: datetime


class GateAutoRejected(DomainEvent, frozen=True, kw_only=True, tag="workflow.gate.auto_rejected"):
    """Nobody decided before the deadline; the gate was configured to reject then."""

    node: str
    deadline: datetime


class RunCompleted(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.completed"):
    """Every node completed; `outputs` maps node ids to their outputs."""

    outputs: dict[str, dict[str, Any]]


class RunFailed(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.failed"):
    """The run cannot complete; `node` is the node that failed, if one did."""

    error: str
    node: str | None = None


class RunCancelled(DomainEvent, frozen=True, kw_only=True, tag="workflow.run.cancelled"):
    """Someone cancelled the run; children still running are cancelled too."""

    reason: str
    by: str


WorkflowEvent = (
    RunCreated
    | RunUpdated
    | RunResumed
    | NodeStarted
    | NodeStateUpdated
    | NodeCompleted
    | NodeFailed
    | GatePaused
    | GateApproved
    | GateRejected
    | GateAutoApproved
    | GateAutoRejected
    | RunCompleted
    | RunFailed
    | RunCancelled
)
TERMINAL_TYPES = ("workflow.run.completed", "workflow.run.failed", "workflow.run.cancelled")
