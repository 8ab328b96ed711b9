"""The rules of an agent run: which events each command produces in each state, or why it is refused."""

from __future__ import annotations

from runwire.contract.agent import RunCancelled, RunCompleted, RunFailed, RunStatus, RunUpdated
from runwire.contract.rejections import IdempotencyConflict, InvalidTransition, NotFound
from runwire_agent.domain.commands import (
    AgentCommand,
    AppendMessage,
    Approve,
    CancelRun,
    CompleteRun,
    CreateRun,
    FailRun,
    FinishStep,
    Reject,
    RequestApproval,
    StartRun,
    StartStep,
)
from runwire_agent.domain.events import (
    AgentEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    MessageAppended,
    RunCreated,
    StepUpdated,
)
from runwire_agent.domain.state import Run


def decide(command: AgentCommand, run: Run) -> list[AgentEvent]:
    """The events `command` produces against `run` (pure); raises a Rejected subclass to refuse it."""
    match command:
        case CreateRun():
            return _create(command, run)
        case StartRun():
            _expect(_existing(run), ("queued",), "start")
            return [RunUpdated(at=command.at, status="running", steps=len(run.steps))]
        case StartStep():
            return _start_step(command, _expect(_existing(run), ("running",), "start a step of"))
        case FinishStep():
            return _finish_step(command, _expect(_existing(run), ("running",), "finish a step of"))
        case RequestApproval():
            _expect(_existing(run), ("running",), "request an approval for")
            _expect_next_step(run, command.index)
            return [
                ApprovalRequested(
                    at=command.at,
                    step=command.index,
                    tool=command.tool,
                    input=command.input,
                    risk=command.risk,
                    estimated_cost=command.estimated_cost,
                    reason=command.reason,
                ),
                RunUpdated(at=command.at, status="waiting_approval", steps=len(run.steps) + 1),
            ]
        case Approve():
            step = _pending_step(run, "approve")
            return [
                ApprovalGranted(at=command.at, step=step, by=command.by, comment=command.comment),
                RunUpdated(at=command.at, status="running", steps=len(run.steps)),
            ]
        case Reject():
            step = _pending_step(run, "reject")
            return [
                ApprovalRejected(at=command.at, step=step, by=command.by, reason=command.reason),
                RunUpdated(at=command.at, status="running", steps=len(run.steps)),
            ]
        case AppendMessage():
            _unfinished(run, "append a message to")
            return [
                MessageAppended(at=command.at, index=len(run.messages), role="user", content=command.content)
            ]
        case CompleteRun():
            _expect(_existing(run), ("running",), "complete")
            if run.step_in_flight is not None:
                raise InvalidTransition(
                    f"agent run {run.id} has step {run.step_in_flight.index} in flight; "
                    "it cannot complete yet"
                )
            return [
                MessageAppended(
                    at=command.at, index=len(run.messages), role="assistant", content=command.answer
                ),
                RunCompleted(at=command.at, answer=command.answer, steps=len(run.steps)),
            ]
        case FailRun():
            _unfinished(run, "fail")
            return [RunFailed(at=command.at, error=command.error)]
        case CancelRun():
            _unfinished(run, "cancel")
            return [RunCancelled(at=command.at, reason=command.reason, by=command.by)]


def _create(command: CreateRun, run: Run) -> list[AgentEvent]:
    if run.exists:
        if run.fingerprint == command.fingerprint:
            return []
        raise IdempotencyConflict(
            f"agent run {run.id} was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        )
    return [
        RunCreated(
            at=command.at,
            prompt=command.prompt,
            sources=command.sources,
            policy=command.policy,
            max_steps=command.max_steps,
            fingerprint=command.fingerprint,
        ),
        MessageAppended(at=command.at, index=0, role="user", content=command.prompt),
    ]


def _existing(run: Run) -> Run:
    if not run.exists:
        raise NotFound(f"agent run {run.id} not found in project {run.project}")
    return run


def _unfinished(run: Run, verb: str) -> Run:
    if _existing(run).terminal:
        raise InvalidTransition(f"cannot {verb} agent run {run.id}: it is already {run.status}")
    return run


def _expect(run: Run, statuses: tuple[RunStatus, ...], verb: str) -> Run:
    if run.status not in statuses:
        raise InvalidTransition(
            f"cannot {verb} agent run {run.id}: it is {run.status}, not {' or '.join(statuses)}"
        )
    return run


def _expect_next_step(run: Run, index: int) -> None:
    if index != len(run.steps):
        raise InvalidTransition(f"agent run {run.id}: the next step is {len(run.steps)}, not {index}")


def _pending_step(run: Run, verb: str) -> int:
    _unfinished(run, verb)
    if run.pending_approval is None:
        raise InvalidTransition(f"cannot {verb}: agent run {run.id} is not waiting for an approval")
    return run.pending_approval.step


def _start_step(command: StartStep, run: Run) -> list[AgentEvent]:
    started = StepUpdated(
        at=command.at, index=command.index, tool=command.tool, input=command.input, status="running"
    )
    if command.index == len(run.steps):
        if run.step_in_flight is not None:
            raise InvalidTransition(
                f"agent run {run.id} has step {run.step_in_flight.index} in flight already"
            )
        return [started]
    if command.index < len(run.steps):
        step = run.steps[command.index]
        if step.status == "approved" and step.tool == command.tool:
            return [started]
        if step.status == "running" and step.tool == command.tool:
            return []
        raise InvalidTransition(f"agent run {run.id}: step {command.index} is {step.status}; it cannot start")
    raise InvalidTransition(f"agent run {run.id}: the next step is {len(run.steps)}, not {command.index}")


def _finish_step(command: FinishStep, run: Run) -> list[AgentEvent]:
    if command.index >= len(run.steps) or run.steps[command.index].status != "running":
        raise InvalidTransition(f"agent run {run.id}: step {command.index} is not running")
    step = run.steps[command.index]
    return [
        StepUpdated(
            at=command.at,
            index=step.index,
            tool=step.tool,
            input=step.input,
            status="failed" if command.error is not None else "completed",
            output=command.output,
            error=command.error,
            duration_ms=command.duration_ms,
        )
    ]
