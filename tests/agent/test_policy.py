"""The deterministic policy: the same run always yields the same next action, from state alone."""

from __future__ import annotations

from datetime import UTC, datetime

from runwire.contract.agent import RunUpdated
from runwire_agent.deterministic_policy import DeterministicPolicy
from runwire_agent.domain.events import (
    AgentEvent,
    ApprovalRejected,
    ApprovalRequested,
    MessageAppended,
    RunCreated,
    StepUpdated,
)
from runwire_agent.domain.state import Run, evolve, initial
from runwire_agent.policy import FinalAnswer, ToolCall
from runwire_agent.tools.calculator_tool import CalculatorTool
from runwire_agent.tools.toolbox import Tool

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# The policy only looks at which tool names exist.
TOOLS: dict[str, Tool] = {name: CalculatorTool() for name in ("search", "calculator", "publish_report")}
POLICY = DeterministicPolicy()
HIT = {"job": "job-1", "chunk": 2, "score": 3, "text": "Foxes are small. "}


def run_of(prompt: str, sources: list[str], *events: AgentEvent) -> Run:
    run = initial("p1", "run-1")
    created = RunCreated(
        at=T0, prompt=prompt, sources=sources, policy="deterministic", max_steps=9, fingerprint="f"
    )
    for event in (
        created,
        MessageAppended(at=T0, index=0, role="user", content=prompt),
        RunUpdated(at=T0, status="running", steps=0),
        *events,
    ):
        run = evolve(run, event)
    return run


def done(index: int, tool: str, arguments: dict[str, object], output: object) -> StepUpdated:
    return StepUpdated(at=T0, index=index, tool=tool, input=arguments, status="completed", output=output)


SEARCHED = done(0, "search", {"query": "foxes 2 * 21", "jobs": ["job-1"]}, {"hits": [HIT]})
SIX_SEVEN = done(0, "calculator", {"expression": "6 * 7"}, {"expression": "6 * 7", "value": 42})
CALCULATED = done(1, "calculator", {"expression": "2 * 21"}, {"expression": "2 * 21", "value": 42})


def test_it_searches_the_sources_for_the_prompt_first() -> None:
    assert POLICY.decide(run_of("foxes 2 * 21", ["job-1"]), TOOLS) == ToolCall(
        "search", {"query": "foxes 2 * 21", "jobs": ["job-1"]}
    )


def test_it_calculates_the_arithmetic_of_the_prompt_after_searching() -> None:
    run = run_of("foxes 2 * 21", ["job-1"], SEARCHED)
    assert POLICY.decide(run, TOOLS) == ToolCall("calculator", {"expression": "2 * 21"})


def test_it_answers_from_what_the_tools_returned() -> None:
    run = run_of("foxes 2 * 21", ["job-1"], SEARCHED, CALCULATED)
    assert POLICY.decide(run, TOOLS) == FinalAnswer(
        "For 'foxes 2 * 21' the best of 1 matching passage(s) is chunk 2 of job-1: "
        "\u201cFoxes are small.\u201d 2 * 21 = 42."
    )


def test_without_sources_it_does_not_search() -> None:
    assert POLICY.decide(run_of("what is 6 * 7", []), TOOLS) == ToolCall(
        "calculator", {"expression": "6 * 7"}
    )


def test_with_no_tool_that_helps_it_says_so() -> None:
    assert POLICY.decide(run_of("hello there", []), TOOLS) == FinalAnswer(
        "I have no tool that helps with 'hello there'."
    )


def test_a_follow_up_message_is_handled_before_answering() -> None:
    run = run_of(
        "what is 6 * 7", [], SIX_SEVEN, MessageAppended(at=T0, index=1, role="user", content="and 10 - 3?")
    )
    assert POLICY.decide(run, TOOLS) == ToolCall("calculator", {"expression": "10 - 3"})


def test_a_prompt_asking_to_publish_publishes_the_report_last() -> None:
    run = run_of(
        "publish 6 * 7",
        [],
        SIX_SEVEN,
    )
    assert POLICY.decide(run, TOOLS) == ToolCall(
        "publish_report", {"title": "publish 6 * 7", "body": "6 * 7 = 42."}
    )


def test_a_rejected_publish_is_not_asked_again_and_the_answer_says_so() -> None:
    arguments = {"title": "publish 6 * 7", "body": "6 * 7 = 42."}
    run = run_of(
        "publish 6 * 7",
        [],
        SIX_SEVEN,
        ApprovalRequested(
            at=T0,
            step=1,
            tool="publish_report",
            input=arguments,
            risk="high",
            estimated_cost=0.01,
            reason="r",
        ),
        ApprovalRejected(at=T0, step=1, by="bob", reason="no"),
    )
    assert POLICY.decide(run, TOOLS) == FinalAnswer(
        "6 * 7 = 42. I did not run publish_report: the approval was rejected."
    )


def test_a_failed_step_is_reported_not_retried() -> None:
    failed = StepUpdated(
        at=T0,
        index=0,
        tool="calculator",
        input={"expression": "1 / 0"},
        status="failed",
        error="division by zero",
    )
    assert POLICY.decide(run_of("what is 1 / 0", [], failed), TOOLS) == FinalAnswer(
        "calculator failed: division by zero."
    )


def test_a_question_without_searchable_words_is_not_searched() -> None:
    assert POLICY.decide(run_of("what is 6 * 7", ["job-1"]), TOOLS) == ToolCall(
        "calculator", {"expression": "6 * 7"}
    )
