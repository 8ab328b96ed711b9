"""The rules of a workflow run: which events each command produces in each state, or why it is refused.

Reactions to child events are idempotent (a repeated completion records nothing), because the
process manager may see a child's event twice: once live and once while catching up after a restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from runwire.contract.domain_event import fold
from runwire.contract.rejections import IdempotencyConflict, InvalidTransition, NotFound
from runwire_workflow.domain.commands import (
    CancelRun,
    CompleteNode,
    CreateRun,
    DecideGate,
    ElapseDelay,
    FailNode,
    RecordChildState,
    ResumeRun,
    StartNode,
    TimeoutGate,
    WorkflowCommand,
)
from runwire_workflow.domain.definition import Definition, DelayNode, GateNode
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
    ResumeReason,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    RunResumed,
    RunUpdated,
    WorkflowEvent,
)
from runwire_workflow.domain.state import NodeState, WorkflowRun, evolve


def decide(command: WorkflowCommand, run: WorkflowRun) -> list[WorkflowEvent]:
    """The events `command` produces against `run` (pure); raises a Rejected subclass to refuse it."""
    match command:
        case CreateRun():
            return _create(command, run)
        case StartNode():
            return _start(command, _active(run, "start a node of"))
        case RecordChildState():
            return _record_child(command, _active(run, "record a child of"))
        case CompleteNode():
            node = _node(_active(run, "complete a node of"), command.node)
            if node.status == "completed":
                return []
            _expect_running(run, node, ("ingest", "agent"))
            completed = NodeCompleted(at=command.at, node=node.id, output=command.output)
            return [completed, *_progress(run, [completed], command.at)]
        case ElapseDelay():
            node = _node(_active(run, "complete a node of"), command.node)
            if node.status == "completed":
                return []
            _expect_running(run, node, ("delay",))
            _expect_deadline(run, node, command.at)
            definition = _definition(run).node(node.id)
            assert isinstance(definition, DelayNode)
            output = {"waited_seconds": definition.seconds, "inputs": node.input or {}}
            completed = NodeCompleted(at=command.at, node=node.id, output=output)
            return [completed, *_progress(run, [completed], command.at)]
        case FailNode():
            node = _node(run, command.node)
            if node.status == "failed":
                return []
            _active(run, "fail a node of")
            if node.status not in ("running", "paused"):
                raise InvalidTransition(
                    f"node {node.id} of workflow run {run.id} is {node.status}; it cannot fail"
                )
            return _fail(run, node, command.error, command.at, [])
        case DecideGate():
            node = _paused_gate(_active(run, "decide a gate of"), command.node)
            if command.approve:
                decided: WorkflowEvent = GateApproved(
                    at=command.at, node=node.id, by=command.by, comment=command.note
                )
                return _pass_gate(run, node, decided, command.by, "gate_approved", command.at)
            reason = command.note or "rejected"
            rejected = GateRejected(at=command.at, node=node.id, by=command.by, reason=reason)
            return _fail(run, node, f"rejected by {command.by}: {reason}", command.at, [rejected])
        case TimeoutGate():
            node = _paused_gate(_active(run, "time out a gate of"), command.node)
            deadline = _expect_deadline(run, node, command.at)
            gate = _definition(run).node(node.id)
            assert isinstance(gate, GateNode)
            if gate.on_timeout == "approve":
                approved = GateAutoApproved(at=command.at, node=node.id, deadline=deadline)
                return _pass_gate(run, node, approved, "timeout", "gate_auto_approved", command.at)
            rejected_by_timeout = GateAutoRejected(at=command.at, node=node.id, deadline=deadline)
            error = f"no decision before the deadline {deadline.isoformat()}"
            return _fail(run, node, error, command.at, [rejected_by_timeout])
        case ResumeRun():
            _active(run, "resume")
            return [RunResumed(at=command.at, reason="restarted")]
        case CancelRun():
            _active(run, "cancel")
            return [RunCancelled(at=command.at, reason=command.reason, by=command.by)]


def _create(command: CreateRun, run: WorkflowRun) -> list[WorkflowEvent]:
    if run.exists:
        if run.fingerprint == command.fingerprint:
            return []
        raise IdempotencyConflict(
            f"workflow run {run.id} was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        )
    return [RunCreated(at=command.at, definition=command.definition, fingerprint=command.fingerprint)]


def _active(run: WorkflowRun, verb: str) -> WorkflowRun:
    if not run.exists:
        raise NotFound(f"workflow run {run.id} not found in project {run.project}")
    if run.terminal:
        raise InvalidTransition(f"cannot {verb} workflow run {run.id}: it is already {run.status}")
    return run


def _definition(run: WorkflowRun) -> Definition:
    assert run.definition is not None
    return run.definition


def _node(run: WorkflowRun, node_id: str) -> NodeState:
    node = run.nodes.get(node_id)
    if node is None:
        raise NotFound(f"workflow run {run.id} has no node {node_id!r}")
    return node


def _expect_running(run: WorkflowRun, node: NodeState, kinds: tuple[str, ...]) -> None:
    if node.kind not in kinds:
        raise InvalidTransition(f"node {node.id} of workflow run {run.id} is of kind {node.kind}")
    if node.status != "running":
        raise InvalidTransition(f"node {node.id} of workflow run {run.id} is {node.status}, not running")


def _expect_deadline(run: WorkflowRun, node: NodeState, at: datetime) -> datetime:
    if node.deadline is None:
        raise InvalidTransition(f"node {node.id} of workflow run {run.id} has no deadline")
    if at < node.deadline:
        raise InvalidTransition(
            f"node {node.id} of workflow run {run.id} waits until {node.deadline.isoformat()}"
        )
    return node.deadline


def _paused_gate(run: WorkflowRun, node_id: str) -> NodeState:
    node = _node(run, node_id)
    if node.kind != "gate":
        raise InvalidTransition(f"node {node_id} of workflow run {run.id} is of kind {node.kind}, not a gate")
    if node.status != "paused":
        raise InvalidTransition(
            f"gate {node_id} of workflow run {run.id} is {node.status}; it is not waiting for a decision"
        )
    return node


def _start(command: StartNode, run: WorkflowRun) -> list[WorkflowEvent]:
    node = _node(run, command.node)
    if node.status != "pending":
        raise InvalidTransition(
            f"node {node.id} of workflow run {run.id} is {node.status}; only pending nodes start"
        )
    definition = _definition(run).node(node.id)
    waiting = [dep for dep in definition.needs if run.nodes[dep].status != "completed"]
    if waiting:
        raise InvalidTransition(f"node {node.id} of workflow run {run.id} waits for {', '.join(waiting)}")
    inputs = run.inputs_of(node.id)
    if isinstance(definition, DelayNode):
        deadline = command.at + timedelta(seconds=definition.seconds)
        return [NodeStarted(at=command.at, node=node.id, kind="delay", input=inputs, deadline=deadline)]
    started = NodeStarted(at=command.at, node=node.id, kind=node.kind, input=inputs)
    if not isinstance(definition, GateNode):
        return [started]
    timeout = definition.timeout_seconds
    gate_deadline = command.at + timedelta(seconds=timeout) if timeout is not None else None
    paused = GatePaused(
        at=command.at,
        node=node.id,
        message=definition.message,
        deadline=gate_deadline,
        on_timeout=definition.on_timeout,
    )
    events: list[WorkflowEvent] = [started, paused]
    if run.status == "running":
        events.append(
            RunUpdated(at=command.at, status="paused", completed=run.completed_count, total=len(run.nodes))
        )
    return events


def _record_child(command: RecordChildState, run: WorkflowRun) -> list[WorkflowEvent]:
    node = _node(run, command.node)
    if node.status != "running":
        return []  # a late mirror of a child whose node already finished
    if node.child is not None and node.child != command.child:
        raise InvalidTransition(
            f"node {node.id} of workflow run {run.id} belongs to {node.child}, not {command.child}"
        )
    if command.seq and command.seq <= node.child_seq:
        return []
    if node.child == command.child and node.child_state == command.state:
        return []
    return [
        NodeStateUpdated(
            at=command.at, node=node.id, child=command.child, state=command.state, seq=command.seq
        )
    ]


def _progress(
    run: WorkflowRun,
    done: list[WorkflowEvent],
    at: datetime,
    resume: ResumeReason | None = None,
    node: str | None = None,
) -> list[WorkflowEvent]:
    """What follows a node's completion: resuming a paused run, the progress, the run's completion."""
    after = fold(run, done, evolve)
    events: list[WorkflowEvent] = []
    status = run.status
    if (
        resume is not None
        and run.status == "paused"
        and not any(n.status == "paused" for n in after.nodes.values())
    ):
        events.append(RunResumed(at=at, reason=resume, node=node))
        status = "running"
    completed = after.completed_count
    events.append(RunUpdated(at=at, status=status, completed=completed, total=len(after.nodes)))
    if completed == len(after.nodes):
        outputs = {node_id: state.output or {} for node_id, state in after.nodes.items()}
        events.append(RunCompleted(at=at, outputs=outputs))
    return events


def _pass_gate(
    run: WorkflowRun, node: NodeState, decided: WorkflowEvent, by: str, reason: ResumeReason, at: datetime
) -> list[WorkflowEvent]:
    output = {"approved": True, "by": by, "inputs": node.input or {}}
    done: list[WorkflowEvent] = [decided, NodeCompleted(at=at, node=node.id, output=output)]
    return [*done, *_progress(run, done, at, reason, node.id)]


def _fail(
    run: WorkflowRun, node: NodeState, error: str, at: datetime, before: list[WorkflowEvent]
) -> list[WorkflowEvent]:
    return [
        *before,
        NodeFailed(at=at, node=node.id, error=error),
        RunFailed(at=at, error=f"node {node.id} failed: {error}", node=node.id),
    ]
