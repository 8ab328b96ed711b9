"""The events of an agent run (`agent.run.*`, `agent.step.*`, `agent.message.*`, `agent.approval.*`).

The run's status changes and its end, which other services follow, are contract
(runwire.contract.agent), stated once there for both sides.
"""

from __future__ import annotations

from typing import Any, Literal

from runwire.contract.agent import RunCancelled, RunCompleted, RunFailed, RunUpdated
from runwire.contract.domain_event import DomainEvent

StepStatus = Literal["awaiting_approval", "approved", "running", "completed", "failed", "rejected"]
Risk = Literal["low", "medium", "high"]
Role = Literal["user", "assistant"]


class RunCreated(DomainEvent, frozen=True, kw_only=True, tag="agent.run.created"):
    """A run was asked for: the prompt, the ingest jobs it may search, and which policy drives it."""

    prompt: str
    sources: list[str]
    policy: str
    max_steps: int
    fingerprint: str


class MessageAppended(DomainEvent, frozen=True, kw_only=True, tag="agent.message.appended"):
    """A message joined the conversation: the user's prompt or follow-up, or the agent's answer."""

    index: int
    role: Role
    content: str


class StepUpdated(DomainEvent, frozen=True, kw_only=True, tag="agent.step.updated"):
    """A tool step started or finished; a finished one has its output (or error) and duration."""

    index: int
    tool: str
    input: dict[str, Any]
    status: StepStatus
    output: Any = None
    error: str | None = None
    duration_ms: float | None = None


class ApprovalRequested(DomainEvent, frozen=True, kw_only=True, tag="agent.approval.requested"):
    """The policy chose a risky tool; the run waits until someone approves or rejects step `step`."""

    step: int
    tool: str
    input: dict[str, Any]
    risk: Risk
    estimated_cost: float
    reason: str


class ApprovalGranted(DomainEvent, frozen=True, kw_only=True, tag="agent.approval.granted"):
    """Someone approved the pending step; it runs next."""

    step: int
    by: str
    comment: str = ""


class ApprovalRejected(DomainEvent, frozen=True, kw_only=True, tag="agent.approval.rejected"):
    """Someone rejected the pending step; the run carries on without it."""

    step: int
    by: str
    reason: str


AgentEvent = (
    RunCreated
    | RunUpdated
    | MessageAppended
    | StepUpdated
    | ApprovalRequested
    | ApprovalGranted
    | ApprovalRejected
    | RunCompleted
    | RunFailed
    | RunCancelled
)
TERMINAL_TYPES = ("agent.run.completed", "agent.run.failed", "agent.run.cancelled")
