"""An agent run's state as the fold of its events (`evolve`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from runwire.contract.agent import RunCancelled, RunCompleted, RunFailed, RunStatus, RunUpdated
from runwire_agent.domain.events import (
    AgentEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    MessageAppended,
    Risk,
    Role,
    RunCreated,
    StepStatus,
    StepUpdated,
)

TERMINAL: frozenset[RunStatus] = frozenset({"completed", "failed", "cancelled"})


class Message(msgspec.Struct, frozen=True):
    """One turn of the conversation."""

    role: Role
    content: str


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call of the run."""

    index: int
    tool: str
    input: dict[str, Any]
    status: StepStatus
    output: Any = None
    error: str | None = None
    duration_ms: float | None = None


class Approval(msgspec.Struct, frozen=True, kw_only=True):
    """The risky step the run is waiting on."""

    step: int
    tool: str
    input: dict[str, Any]
    risk: Risk
    estimated_cost: float
    reason: str
    requested_at: datetime


class Run(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one run; `new` until its creation event."""

    project: str
    id: str
    status: RunStatus = "new"
    prompt: str = ""
    sources: tuple[str, ...] = ()
    policy: str = ""
    max_steps: int = 0
    fingerprint: str = ""
    messages: tuple[Message, ...] = ()
    steps: tuple[Step, ...] = ()
    pending_approval: Approval | None = None
    answer: str | None = None
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

    @property
    def step_in_flight(self) -> Step | None:
        """The step that was approved or started and has not finished."""
        return next((s for s in self.steps if s.status in ("approved", "running")), None)


def initial(project: str, run_id: str) -> Run:
    """The state before any event."""
    return Run(project=project, id=run_id)


def _with_step(run: Run, step: Step) -> tuple[Step, ...]:
    if step.index < len(run.steps):
        return tuple(step if s.index == step.index else s for s in run.steps)
    return (*run.steps, step)


def _set_step_status(run: Run, index: int, status: StepStatus) -> tuple[Step, ...]:
    return tuple(msgspec.structs.replace(s, status=status) if s.index == index else s for s in run.steps)


def evolve(run: Run, event: AgentEvent) -> Run:
    """The run after `event` (pure)."""
    replace = msgspec.structs.replace
    match event:
        case RunCreated():
            return replace(
                run,
                status="queued",
                prompt=event.prompt,
                sources=tuple(event.sources),
                policy=event.policy,
                max_steps=event.max_steps,
                fingerprint=event.fingerprint,
                created_at=event.at,
                updated_at=event.at,
            )
        case RunUpdated():
            return replace(run, status=event.status, updated_at=event.at)
        case MessageAppended():
            return replace(
                run, messages=(*run.messages, Message(event.role, event.content)), updated_at=event.at
            )
        case StepUpdated():
            step = Step(
                index=event.index,
                tool=event.tool,
                input=event.input,
                status=event.status,
                output=event.output,
                error=event.error,
                duration_ms=event.duration_ms,
            )
            return replace(run, steps=_with_step(run, step), updated_at=event.at)
        case ApprovalRequested():
            step = Step(index=event.step, tool=event.tool, input=event.input, status="awaiting_approval")
            approval = Approval(
                step=event.step,
                tool=event.tool,
                input=event.input,
                risk=event.risk,
                estimated_cost=event.estimated_cost,
                reason=event.reason,
                requested_at=event.at,
            )
            return replace(run, steps=_with_step(run, step), pending_approval=approval, updated_at=event.at)
        case ApprovalGranted():
            steps = _set_step_status(run, event.step, "approved")
            return replace(run, steps=steps, pending_approval=None, updated_at=event.at)
        case ApprovalRejected():
            steps = _set_step_status(run, event.step, "rejected")
            return replace(run, steps=steps, pending_approval=None, updated_at=event.at)
        case RunCompleted():
            return replace(run, status="completed", answer=event.answer, updated_at=event.at)
        case RunFailed():
            return replace(
                run, status="failed", error=event.error, pending_approval=None, updated_at=event.at
            )
        case RunCancelled():
            reason = f"{event.reason} (by {event.by})"
            return replace(
                run, status="cancelled", cancel_reason=reason, pending_approval=None, updated_at=event.at
            )
