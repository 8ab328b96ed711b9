"""The workflow run's rules, table-driven: every command against every state it may meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runwire.contract.rejections import IdempotencyConflict, InvalidTransition, NotFound, Rejected
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
from runwire_workflow.domain.decide import decide
from runwire_workflow.domain.definition import parse_definition
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
from runwire_workflow.domain.state import WorkflowRun, evolve, initial

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
T5 = T0 + timedelta(seconds=5)

# load -> wait -> review (gate, approves after 2s) -> answer; strict (gate rejects on timeout) beside review.
DEFINITION = parse_definition(
    {
        "name": "chain",
        "nodes": [
            {"id": "load", "kind": "ingest", "document": "text"},
            {"id": "wait", "kind": "delay", "seconds": 0.5, "needs": ["load"]},
            {
                "id": "review",
                "kind": "gate",
                "timeout_seconds": 2,
                "on_timeout": "approve",
                "needs": ["wait"],
            },
            {"id": "strict", "kind": "gate", "timeout_seconds": 2, "needs": ["wait"]},
            {"id": "answer", "kind": "agent", "prompt": "q", "needs": ["review"]},
        ],
    }
)
LOAD_OUT = {"job_id": "wf-1-load", "chunks": 1, "characters": 4}
WAIT_OUT = {"waited_seconds": 0.5, "inputs": {"load": LOAD_OUT}}
WAIT_DEADLINE = T0 + timedelta(seconds=0.5)
GATE_DEADLINE = T0 + timedelta(seconds=2)


def fold(run: WorkflowRun, *events: WorkflowEvent) -> WorkflowRun:
    for event in events:
        run = evolve(run, event)
    return run


NEW = initial("p1", "wf-1")
CREATED = fold(NEW, RunCreated(at=T0, definition=DEFINITION, fingerprint="fp"))
LOAD_RUNNING = fold(CREATED, NodeStarted(at=T0, node="load", kind="ingest", input={}))
LOAD_CHILD = fold(
    LOAD_RUNNING, NodeStateUpdated(at=T0, node="load", child="wf-1-load", state={"status": "queued"}, seq=0)
)
LOAD_INDEXING = fold(
    LOAD_CHILD,
    NodeStateUpdated(
        at=T0, node="load", child="wf-1-load", state={"status": "processing", "stage": "INDEXING"}, seq=50
    ),
)
WAITING = fold(
    LOAD_CHILD,
    NodeCompleted(at=T0, node="load", output=LOAD_OUT),
    NodeStarted(at=T0, node="wait", kind="delay", input={"load": LOAD_OUT}, deadline=WAIT_DEADLINE),
)
GATES = fold(
    WAITING,
    NodeCompleted(at=T0, node="wait", output=WAIT_OUT),
    NodeStarted(at=T0, node="review", kind="gate", input={"wait": WAIT_OUT}),
    GatePaused(at=T0, node="review", message="", deadline=GATE_DEADLINE, on_timeout="approve"),
    RunUpdated(at=T0, status="paused", completed=2, total=5),
    NodeStarted(at=T0, node="strict", kind="gate", input={"wait": WAIT_OUT}),
    GatePaused(at=T0, node="strict", message="", deadline=GATE_DEADLINE, on_timeout="reject"),
)
ONE_GATE_LEFT = fold(
    GATES,
    GateApproved(at=T0, node="strict", by="bob"),
    NodeCompleted(at=T0, node="strict", output={"approved": True, "by": "bob", "inputs": {"wait": WAIT_OUT}}),
)
REVIEW_OUT = {"approved": True, "by": "bob", "inputs": {"wait": WAIT_OUT}}
ANSWERING = fold(
    ONE_GATE_LEFT,
    GateApproved(at=T0, node="review", by="bob"),
    NodeCompleted(at=T0, node="review", output=REVIEW_OUT),
    RunResumed(at=T0, reason="gate_approved", node="review"),
    NodeStarted(at=T0, node="answer", kind="agent", input={"review": REVIEW_OUT}),
)
COMPLETED = fold(
    ANSWERING, NodeCompleted(at=T0, node="answer", output={"answer": "a"}), RunCompleted(at=T0, outputs={})
)
FAILED = fold(
    LOAD_CHILD,
    NodeFailed(at=T0, node="load", error="x"),
    RunFailed(at=T0, error="node load failed: x", node="load"),
)
CANCELLED = fold(LOAD_CHILD, RunCancelled(at=T0, reason="stop", by="u"))

MISSING = NotFound("workflow run wf-1 not found in project p1")


def ended(verb: str, status: str) -> InvalidTransition:
    return InvalidTransition(f"cannot {verb} workflow run wf-1: it is already {status}")


def progress(status: RunStatus, completed: int) -> RunUpdated:
    return RunUpdated(at=T1, status=status, completed=completed, total=5)


def child_state(state: dict[str, Any], seq: int) -> RecordChildState:
    return RecordChildState(node="load", child="wf-1-load", state=state, seq=seq, at=T1)


PROCESSING = {"status": "processing", "stage": "CHUNKING"}

CASES: list[tuple[str, WorkflowRun, WorkflowCommand, list[WorkflowEvent] | Rejected]] = [
    (
        "create",
        NEW,
        CreateRun(definition=DEFINITION, fingerprint="fp", at=T1),
        [RunCreated(at=T1, definition=DEFINITION, fingerprint="fp")],
    ),
    (
        "create again with same definition",
        CREATED,
        CreateRun(definition=DEFINITION, fingerprint="fp", at=T1),
        [],
    ),
    (
        "create with reused key",
        CREATED,
        CreateRun(definition=DEFINITION, fingerprint="other", at=T1),
        IdempotencyConflict(
            "workflow run wf-1 was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        ),
    ),
    # start
    (
        "start a root node",
        CREATED,
        StartNode(node="load", at=T1),
        [NodeStarted(at=T1, node="load", kind="ingest", input={})],
    ),
    (
        "start a node before its needs",
        CREATED,
        StartNode(node="wait", at=T1),
        InvalidTransition("node wait of workflow run wf-1 waits for load"),
    ),
    (
        "start a running node",
        LOAD_RUNNING,
        StartNode(node="load", at=T1),
        InvalidTransition("node load of workflow run wf-1 is running; only pending nodes start"),
    ),
    (
        "start an unknown node",
        CREATED,
        StartNode(node="nope", at=T1),
        NotFound("workflow run wf-1 has no node 'nope'"),
    ),
    ("start on a missing run", NEW, StartNode(node="load", at=T1), MISSING),
    (
        "start on a cancelled run",
        CANCELLED,
        StartNode(node="wait", at=T1),
        ended("start a node of", "cancelled"),
    ),
    (
        "start a delay sets its deadline from the input's time",
        fold(LOAD_CHILD, NodeCompleted(at=T0, node="load", output=LOAD_OUT)),
        StartNode(node="wait", at=T1),
        [
            NodeStarted(
                at=T1,
                node="wait",
                kind="delay",
                input={"load": LOAD_OUT},
                deadline=T1 + timedelta(seconds=0.5),
            )
        ],
    ),
    (
        "start a gate pauses it and the run",
        fold(WAITING, NodeCompleted(at=T0, node="wait", output=WAIT_OUT)),
        StartNode(node="review", at=T1),
        [
            NodeStarted(at=T1, node="review", kind="gate", input={"wait": WAIT_OUT}),
            GatePaused(
                at=T1, node="review", message="", deadline=T1 + timedelta(seconds=2), on_timeout="approve"
            ),
            progress("paused", 2),
        ],
    ),
    # child state
    (
        "record the child",
        LOAD_RUNNING,
        child_state({"status": "queued"}, 0),
        [NodeStateUpdated(at=T1, node="load", child="wf-1-load", state={"status": "queued"}, seq=0)],
    ),
    (
        "mirror a new child state",
        LOAD_CHILD,
        child_state(PROCESSING, 40),
        [NodeStateUpdated(at=T1, node="load", child="wf-1-load", state=PROCESSING, seq=40)],
    ),
    ("an unchanged child state records nothing", LOAD_CHILD, child_state({"status": "queued"}, 41), []),
    ("an older child event records nothing", LOAD_INDEXING, child_state(PROCESSING, 40), []),
    ("a child state after the node finished records nothing", WAITING, child_state(PROCESSING, 60), []),
    (
        "a foreign child is refused",
        LOAD_CHILD,
        RecordChildState(node="load", child="other", state={}, seq=0, at=T1),
        InvalidTransition("node load of workflow run wf-1 belongs to wf-1-load, not other"),
    ),
    # complete
    (
        "complete the ingest node",
        LOAD_CHILD,
        CompleteNode(node="load", output=LOAD_OUT, at=T1),
        [NodeCompleted(at=T1, node="load", output=LOAD_OUT), progress("running", 1)],
    ),
    ("complete it again records nothing", WAITING, CompleteNode(node="load", output=LOAD_OUT, at=T1), []),
    (
        "complete a pending node",
        CREATED,
        CompleteNode(node="load", output={}, at=T1),
        InvalidTransition("node load of workflow run wf-1 is pending, not running"),
    ),
    (
        "complete a gate this way",
        GATES,
        CompleteNode(node="review", output={}, at=T1),
        InvalidTransition("node review of workflow run wf-1 is of kind gate"),
    ),
    (
        "complete the last node completes the run",
        ANSWERING,
        CompleteNode(node="answer", output={"answer": "a"}, at=T1),
        [
            NodeCompleted(at=T1, node="answer", output={"answer": "a"}),
            progress("running", 5),
            RunCompleted(
                at=T1,
                outputs={
                    "load": LOAD_OUT,
                    "wait": WAIT_OUT,
                    "review": REVIEW_OUT,
                    "strict": {"approved": True, "by": "bob", "inputs": {"wait": WAIT_OUT}},
                    "answer": {"answer": "a"},
                },
            ),
        ],
    ),
    (
        "complete on a failed run",
        FAILED,
        CompleteNode(node="load", output={}, at=T1),
        ended("complete a node of", "failed"),
    ),
    # delay
    (
        "a delay elapses at its deadline",
        WAITING,
        ElapseDelay(node="wait", at=WAIT_DEADLINE),
        [
            NodeCompleted(at=WAIT_DEADLINE, node="wait", output=WAIT_OUT),
            RunUpdated(at=WAIT_DEADLINE, status="running", completed=2, total=5),
        ],
    ),
    (
        "a delay does not elapse early",
        WAITING,
        ElapseDelay(node="wait", at=T0),
        InvalidTransition(f"node wait of workflow run wf-1 waits until {WAIT_DEADLINE.isoformat()}"),
    ),
    (
        "a non-delay does not elapse",
        LOAD_CHILD,
        ElapseDelay(node="load", at=T5),
        InvalidTransition("node load of workflow run wf-1 is of kind ingest"),
    ),
    # fail
    (
        "a failing node fails the run",
        LOAD_CHILD,
        FailNode(node="load", error="boom", at=T1),
        [
            NodeFailed(at=T1, node="load", error="boom"),
            RunFailed(at=T1, error="node load failed: boom", node="load"),
        ],
    ),
    ("failing it again records nothing", FAILED, FailNode(node="load", error="boom", at=T1), []),
    (
        "a pending node cannot fail",
        CREATED,
        FailNode(node="load", error="boom", at=T1),
        InvalidTransition("node load of workflow run wf-1 is pending; it cannot fail"),
    ),
    (
        "fail on a cancelled run",
        CANCELLED,
        FailNode(node="load", error="boom", at=T1),
        ended("fail a node of", "cancelled"),
    ),
    # gates
    (
        "approve one of two paused gates keeps the run paused",
        GATES,
        DecideGate(node="strict", approve=True, by="bob", at=T1),
        [
            GateApproved(at=T1, node="strict", by="bob"),
            NodeCompleted(
                at=T1, node="strict", output={"approved": True, "by": "bob", "inputs": {"wait": WAIT_OUT}}
            ),
            progress("paused", 3),
        ],
    ),
    (
        "approve the last paused gate resumes the run",
        ONE_GATE_LEFT,
        DecideGate(node="review", approve=True, by="bob", note="fine", at=T1),
        [
            GateApproved(at=T1, node="review", by="bob", comment="fine"),
            NodeCompleted(at=T1, node="review", output=REVIEW_OUT),
            RunResumed(at=T1, reason="gate_approved", node="review"),
            progress("running", 4),
        ],
    ),
    (
        "reject a gate fails the run",
        GATES,
        DecideGate(node="review", approve=False, by="bob", note="no", at=T1),
        [
            GateRejected(at=T1, node="review", by="bob", reason="no"),
            NodeFailed(at=T1, node="review", error="rejected by bob: no"),
            RunFailed(at=T1, error="node review failed: rejected by bob: no", node="review"),
        ],
    ),
    (
        "decide a gate that is not paused",
        ANSWERING,
        DecideGate(node="review", approve=True, by="bob", at=T1),
        InvalidTransition("gate review of workflow run wf-1 is completed; it is not waiting for a decision"),
    ),
    (
        "decide a node that is not a gate",
        GATES,
        DecideGate(node="load", approve=True, by="bob", at=T1),
        InvalidTransition("node load of workflow run wf-1 is of kind ingest, not a gate"),
    ),
    (
        "decide a gate of a cancelled run",
        CANCELLED,
        DecideGate(node="review", approve=True, by="b", at=T1),
        ended("decide a gate of", "cancelled"),
    ),
    (
        "a gate past its deadline auto-approves",
        ONE_GATE_LEFT,
        TimeoutGate(node="review", at=T5),
        [
            GateAutoApproved(at=T5, node="review", deadline=GATE_DEADLINE),
            NodeCompleted(
                at=T5, node="review", output={"approved": True, "by": "timeout", "inputs": {"wait": WAIT_OUT}}
            ),
            RunResumed(at=T5, reason="gate_auto_approved", node="review"),
            RunUpdated(at=T5, status="running", completed=4, total=5),
        ],
    ),
    (
        "a gate past its deadline auto-rejects",
        GATES,
        TimeoutGate(node="strict", at=T5),
        [
            GateAutoRejected(at=T5, node="strict", deadline=GATE_DEADLINE),
            NodeFailed(
                at=T5, node="strict", error=f"no decision before the deadline {GATE_DEADLINE.isoformat()}"
            ),
            RunFailed(
                at=T5,
                error=f"node strict failed: no decision before the deadline {GATE_DEADLINE.isoformat()}",
                node="strict",
            ),
        ],
    ),
    (
        "a gate does not time out early",
        GATES,
        TimeoutGate(node="review", at=T1),
        InvalidTransition(f"node review of workflow run wf-1 waits until {GATE_DEADLINE.isoformat()}"),
    ),
    # resume and cancel
    ("resume after a restart", LOAD_CHILD, ResumeRun(at=T1), [RunResumed(at=T1, reason="restarted")]),
    ("resume a finished run", COMPLETED, ResumeRun(at=T1), ended("resume", "completed")),
    (
        "cancel a running run",
        LOAD_CHILD,
        CancelRun(reason="stop", by="alice", at=T1),
        [RunCancelled(at=T1, reason="stop", by="alice")],
    ),
    (
        "cancel a paused run",
        GATES,
        CancelRun(reason="stop", by="alice", at=T1),
        [RunCancelled(at=T1, reason="stop", by="alice")],
    ),
    ("cancel a missing run", NEW, CancelRun(reason="stop", by="alice", at=T1), MISSING),
    (
        "cancel a completed run",
        COMPLETED,
        CancelRun(reason="stop", by="a", at=T1),
        ended("cancel", "completed"),
    ),
    ("cancel a failed run", FAILED, CancelRun(reason="stop", by="a", at=T1), ended("cancel", "failed")),
    (
        "cancel a cancelled run",
        CANCELLED,
        CancelRun(reason="stop", by="a", at=T1),
        ended("cancel", "cancelled"),
    ),
]


@pytest.mark.parametrize(("state", "command", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(
    state: WorkflowRun, command: WorkflowCommand, expected: list[WorkflowEvent] | Rejected
) -> None:
    if isinstance(expected, Rejected):
        with pytest.raises(Rejected) as caught:
            decide(command, state)
        assert caught.value == expected
    else:
        assert decide(command, state) == expected


def test_a_created_run_is_running_with_every_node_pending() -> None:
    assert CREATED.status == "running"
    assert {n.id: n.status for n in CREATED.nodes.values()} == dict.fromkeys(
        ["load", "wait", "review", "strict", "answer"], "pending"
    )
    assert CREATED.ready() == ["load"]


def test_ready_nodes_are_those_whose_needs_completed() -> None:
    after_wait = fold(WAITING, NodeCompleted(at=T0, node="wait", output=WAIT_OUT))
    assert after_wait.ready() == ["review", "strict"]


def test_inputs_are_the_outputs_of_the_needed_nodes() -> None:
    assert WAITING.inputs_of("wait") == {"load": LOAD_OUT}


def test_a_paused_gate_keeps_its_deadline() -> None:
    assert (GATES.status, GATES.nodes["review"].status, GATES.nodes["review"].deadline) == (
        "paused",
        "paused",
        GATE_DEADLINE,
    )


def test_a_resume_while_a_gate_is_paused_keeps_the_run_paused() -> None:
    assert evolve(GATES, RunResumed(at=T1, reason="restarted")).status == "paused"


def test_ending_a_run_cancels_its_running_nodes() -> None:
    assert (CANCELLED.status, CANCELLED.nodes["load"].status, CANCELLED.cancel_reason) == (
        "cancelled",
        "cancelled",
        "stop (by u)",
    )


def test_a_failed_run_names_the_node() -> None:
    assert (FAILED.status, FAILED.failed_node, FAILED.error) == ("failed", "load", "node load failed: x")


def test_no_node_is_ready_once_the_run_ended() -> None:
    assert fold(CREATED, RunCancelled(at=T0, reason="r", by="u")).ready() == []
