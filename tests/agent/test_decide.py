"""The agent run's rules, table-driven: every command against every state it may meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from runwire.contract.agent import RunCancelled, RunCompleted, RunFailed, RunUpdated
from runwire.contract.rejections import IdempotencyConflict, InvalidTransition, NotFound, Rejected
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
from runwire_agent.domain.decide import decide
from runwire_agent.domain.events import (
    AgentEvent,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    MessageAppended,
    RunCreated,
    StepUpdated,
)
from runwire_agent.domain.state import Approval, Message, Run, Step, evolve, initial

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
CALC = {"expression": "1+1"}
REPORT = {"title": "t", "body": "b"}


def fold(*events: AgentEvent) -> Run:
    run = initial("p1", "run-1")
    for event in events:
        run = evolve(run, event)
    return run


CREATED = RunCreated(
    at=T0, prompt="hi", sources=["job-1"], policy="deterministic", max_steps=5, fingerprint="fp"
)
PROMPT = MessageAppended(at=T0, index=0, role="user", content="hi")
STARTED = RunUpdated(at=T0, status="running", steps=0)
STEP0_RUNNING = StepUpdated(at=T0, index=0, tool="calculator", input=CALC, status="running")
STEP0_DONE = StepUpdated(
    at=T0, index=0, tool="calculator", input=CALC, status="completed", output={"value": 2}, duration_ms=1.0
)
ASKED = ApprovalRequested(
    at=T0, step=1, tool="publish_report", input=REPORT, risk="high", estimated_cost=0.01, reason="publish"
)
WAITING_UPDATE = RunUpdated(at=T0, status="waiting_approval", steps=2)

NEW = initial("p1", "run-1")
QUEUED = fold(CREATED, PROMPT)
RUNNING = fold(CREATED, PROMPT, STARTED)
STEP_RUNNING = fold(CREATED, PROMPT, STARTED, STEP0_RUNNING)
STEP_DONE = fold(CREATED, PROMPT, STARTED, STEP0_RUNNING, STEP0_DONE)
WAITING = fold(CREATED, PROMPT, STARTED, STEP0_RUNNING, STEP0_DONE, ASKED, WAITING_UPDATE)
APPROVED = evolve(
    evolve(WAITING, ApprovalGranted(at=T0, step=1, by="bob")), RunUpdated(at=T0, status="running", steps=2)
)
COMPLETED = evolve(STEP_DONE, RunCompleted(at=T0, answer="2", steps=1))
FAILED = evolve(STEP_DONE, RunFailed(at=T0, error="boom"))
CANCELLED = evolve(STEP_DONE, RunCancelled(at=T0, reason="stop", by="u"))

CREATE = CreateRun(
    prompt="hi", sources=["job-1"], policy="deterministic", max_steps=5, fingerprint="fp", at=T1
)
START = StartRun(at=T1)
START_STEP0 = StartStep(index=0, tool="calculator", input=CALC, at=T1)
START_STEP1 = StartStep(index=1, tool="publish_report", input=REPORT, at=T1)
FINISH_STEP0 = FinishStep(index=0, output={"value": 2}, duration_ms=2.5, at=T1)
ASK = RequestApproval(
    index=1, tool="publish_report", input=REPORT, risk="high", estimated_cost=0.01, reason="publish", at=T1
)
APPROVE = Approve(by="bob", comment="ok", at=T1)
REJECT = Reject(by="bob", reason="not now", at=T1)
MESSAGE = AppendMessage(content="and 2+2?", at=T1)
COMPLETE = CompleteRun(answer="done", at=T1)
FAIL = FailRun(error="policy gone", at=T1)
CANCEL = CancelRun(reason="stop", by="alice", at=T1)

MISSING = NotFound("agent run run-1 not found in project p1")


def finished(verb: str, status: str) -> InvalidTransition:
    return InvalidTransition(f"cannot {verb} agent run run-1: it is already {status}")


def not_in(verb: str, status: str, wanted: str) -> InvalidTransition:
    return InvalidTransition(f"cannot {verb} agent run run-1: it is {status}, not {wanted}")


def running(steps: int) -> RunUpdated:
    return RunUpdated(at=T1, status="running", steps=steps)


CASES: list[tuple[str, Run, AgentCommand, list[AgentEvent] | Rejected]] = [
    (
        "create",
        NEW,
        CREATE,
        [msgspec.structs.replace(CREATED, at=T1), msgspec.structs.replace(PROMPT, at=T1)],
    ),
    ("create again with same request", QUEUED, CREATE, []),
    ("create again after completion", COMPLETED, CREATE, []),
    (
        "create with reused key",
        QUEUED,
        msgspec.structs.replace(CREATE, fingerprint="other"),
        IdempotencyConflict(
            "agent run run-1 was created by a different request with the same Idempotency-Key",
            field="Idempotency-Key",
        ),
    ),
    ("start queued", QUEUED, START, [running(0)]),
    ("start missing", NEW, START, MISSING),
    ("start running", RUNNING, START, not_in("start", "running", "queued")),
    ("start completed", COMPLETED, START, not_in("start", "completed", "queued")),
    (
        "start step",
        RUNNING,
        START_STEP0,
        [StepUpdated(at=T1, index=0, tool="calculator", input=CALC, status="running")],
    ),
    ("start step on queued run", QUEUED, START_STEP0, not_in("start a step of", "queued", "running")),
    (
        "start step while waiting",
        WAITING,
        START_STEP1,
        not_in("start a step of", "waiting_approval", "running"),
    ),
    ("start a step already running records nothing", STEP_RUNNING, START_STEP0, []),
    (
        "start the next step while one runs",
        STEP_RUNNING,
        StartStep(index=1, tool="calculator", input=CALC, at=T1),
        InvalidTransition("agent run run-1 has step 0 in flight already"),
    ),
    (
        "start a finished step",
        STEP_DONE,
        START_STEP0,
        InvalidTransition("agent run run-1: step 0 is completed; it cannot start"),
    ),
    (
        "start a step out of order",
        RUNNING,
        START_STEP1,
        InvalidTransition("agent run run-1: the next step is 0, not 1"),
    ),
    (
        "start the approved step",
        APPROVED,
        START_STEP1,
        [StepUpdated(at=T1, index=1, tool="publish_report", input=REPORT, status="running")],
    ),
    (
        "start step on cancelled run",
        CANCELLED,
        START_STEP0,
        not_in("start a step of", "cancelled", "running"),
    ),
    (
        "finish running step",
        STEP_RUNNING,
        FINISH_STEP0,
        [
            StepUpdated(
                at=T1,
                index=0,
                tool="calculator",
                input=CALC,
                status="completed",
                output={"value": 2},
                duration_ms=2.5,
            )
        ],
    ),
    (
        "finish with an error fails the step",
        STEP_RUNNING,
        FinishStep(index=0, error="division by zero", duration_ms=0.1, at=T1),
        [
            StepUpdated(
                at=T1,
                index=0,
                tool="calculator",
                input=CALC,
                status="failed",
                error="division by zero",
                duration_ms=0.1,
            )
        ],
    ),
    (
        "finish a step that is not running",
        STEP_DONE,
        FINISH_STEP0,
        InvalidTransition("agent run run-1: step 0 is not running"),
    ),
    (
        "finish a step of a cancelled run",
        CANCELLED,
        FINISH_STEP0,
        not_in("finish a step of", "cancelled", "running"),
    ),
    (
        "request approval",
        STEP_DONE,
        ASK,
        [msgspec.structs.replace(ASKED, at=T1), RunUpdated(at=T1, status="waiting_approval", steps=2)],
    ),
    (
        "request approval for a step out of order",
        RUNNING,
        ASK,
        InvalidTransition("agent run run-1: the next step is 0, not 1"),
    ),
    (
        "request approval while waiting",
        WAITING,
        ASK,
        not_in("request an approval for", "waiting_approval", "running"),
    ),
    ("approve", WAITING, APPROVE, [ApprovalGranted(at=T1, step=1, by="bob", comment="ok"), running(2)]),
    (
        "approve with nothing pending",
        RUNNING,
        APPROVE,
        InvalidTransition("cannot approve: agent run run-1 is not waiting for an approval"),
    ),
    ("approve missing run", NEW, APPROVE, MISSING),
    ("approve finished run", COMPLETED, APPROVE, finished("approve", "completed")),
    ("reject", WAITING, REJECT, [ApprovalRejected(at=T1, step=1, by="bob", reason="not now"), running(2)]),
    (
        "reject with nothing pending",
        APPROVED,
        REJECT,
        InvalidTransition("cannot reject: agent run run-1 is not waiting for an approval"),
    ),
    ("reject cancelled run", CANCELLED, REJECT, finished("reject", "cancelled")),
    (
        "message to running run",
        RUNNING,
        MESSAGE,
        [MessageAppended(at=T1, index=1, role="user", content="and 2+2?")],
    ),
    (
        "message to queued run",
        QUEUED,
        MESSAGE,
        [MessageAppended(at=T1, index=1, role="user", content="and 2+2?")],
    ),
    (
        "message while waiting",
        WAITING,
        MESSAGE,
        [MessageAppended(at=T1, index=1, role="user", content="and 2+2?")],
    ),
    ("message to missing run", NEW, MESSAGE, MISSING),
    ("message to completed run", COMPLETED, MESSAGE, finished("append a message to", "completed")),
    ("message to failed run", FAILED, MESSAGE, finished("append a message to", "failed")),
    (
        "complete",
        STEP_DONE,
        COMPLETE,
        [
            MessageAppended(at=T1, index=1, role="assistant", content="done"),
            RunCompleted(at=T1, answer="done", steps=1),
        ],
    ),
    (
        "complete with a step in flight",
        STEP_RUNNING,
        COMPLETE,
        InvalidTransition("agent run run-1 has step 0 in flight; it cannot complete yet"),
    ),
    ("complete while waiting", WAITING, COMPLETE, not_in("complete", "waiting_approval", "running")),
    ("complete twice", COMPLETED, COMPLETE, not_in("complete", "completed", "running")),
    ("fail running", STEP_RUNNING, FAIL, [RunFailed(at=T1, error="policy gone")]),
    ("fail queued", QUEUED, FAIL, [RunFailed(at=T1, error="policy gone")]),
    ("fail missing", NEW, FAIL, MISSING),
    ("fail completed", COMPLETED, FAIL, finished("fail", "completed")),
    ("cancel queued", QUEUED, CANCEL, [RunCancelled(at=T1, reason="stop", by="alice")]),
    ("cancel running", STEP_RUNNING, CANCEL, [RunCancelled(at=T1, reason="stop", by="alice")]),
    ("cancel waiting", WAITING, CANCEL, [RunCancelled(at=T1, reason="stop", by="alice")]),
    ("cancel missing", NEW, CANCEL, MISSING),
    ("cancel completed", COMPLETED, CANCEL, finished("cancel", "completed")),
    ("cancel failed", FAILED, CANCEL, finished("cancel", "failed")),
    ("cancel cancelled", CANCELLED, CANCEL, finished("cancel", "cancelled")),
]


@pytest.mark.parametrize(("state", "command", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(state: Run, command: AgentCommand, expected: list[AgentEvent] | Rejected) -> None:
    if isinstance(expected, Rejected):
        with pytest.raises(Rejected) as caught:
            decide(command, state)
        assert caught.value == expected
    else:
        assert decide(command, state) == expected


def test_created_run_is_queued_with_the_prompt_as_first_message() -> None:
    assert (QUEUED.status, QUEUED.messages, QUEUED.sources) == (
        "queued",
        (Message("user", "hi"),),
        ("job-1",),
    )


def test_a_requested_approval_adds_a_step_awaiting_it() -> None:
    assert WAITING.steps[1] == Step(index=1, tool="publish_report", input=REPORT, status="awaiting_approval")
    assert WAITING.pending_approval == Approval(
        step=1,
        tool="publish_report",
        input=REPORT,
        risk="high",
        estimated_cost=0.01,
        reason="publish",
        requested_at=T0,
    )


def test_a_granted_approval_marks_the_step_approved_and_clears_the_request() -> None:
    assert (APPROVED.status, APPROVED.steps[1].status, APPROVED.pending_approval) == (
        "running",
        "approved",
        None,
    )
    assert APPROVED.step_in_flight == APPROVED.steps[1]


def test_a_rejected_approval_marks_the_step_rejected() -> None:
    rejected = evolve(WAITING, ApprovalRejected(at=T1, step=1, by="bob", reason="no"))
    assert (rejected.steps[1].status, rejected.pending_approval) == ("rejected", None)


def test_a_finished_step_keeps_its_output_and_duration() -> None:
    assert STEP_DONE.steps == (
        Step(
            index=0, tool="calculator", input=CALC, status="completed", output={"value": 2}, duration_ms=1.0
        ),
    )


def test_completion_keeps_the_answer() -> None:
    assert (COMPLETED.status, COMPLETED.answer) == ("completed", "2")


def test_cancel_keeps_the_reason_and_clears_a_pending_approval() -> None:
    cancelled = evolve(WAITING, RunCancelled(at=T1, reason="stop", by="u"))
    assert (cancelled.status, cancelled.cancel_reason, cancelled.pending_approval) == (
        "cancelled",
        "stop (by u)",
        None,
    )
