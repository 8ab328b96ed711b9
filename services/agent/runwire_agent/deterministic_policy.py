"""The default policy: a deterministic, tool-using agent with no model and no network.

For the prompt and each follow-up message it searches the run's ingested documents (when the
question has searchable words) and calculates
any arithmetic it finds; if the prompt asks to publish, it publishes a report (a risky step that
needs approval); then it answers from what its tools returned. The same run state always yields
the same action, which is what makes a restarted run carry on exactly where it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runwire_agent.domain.state import Run, Step
from runwire_agent.policy import Action, FinalAnswer, ToolCall
from runwire_agent.tools.calculator import find_expression
from runwire_agent.tools.search_tool import terms
from runwire_agent.tools.toolbox import Tool

_PUBLISH_RE = re.compile(r"\bpublish\w*\b", re.IGNORECASE)


def questions(run: Run) -> list[str]:
    """What the user asked: the prompt and every follow-up message, in order."""
    return [m.content for m in run.messages if m.role == "user"]


def _done(run: Run, tool: str, key: str, value: str) -> bool:
    return any(s.tool == tool and s.input.get(key) == value for s in run.steps)


def _describe(step: Step) -> str:
    output: Any = step.output
    if step.status == "rejected":
        return f"I did not run {step.tool}: the approval was rejected."
    if step.status == "failed":
        return f"{step.tool} failed: {step.error}."
    if step.tool == "search":
        hits = output.get("hits", []) if isinstance(output, dict) else []
        query = step.input.get("query", "")
        if not hits:
            return f"I found nothing about {query!r} in the indexed documents."
        best = hits[0]
        return (
            f"For {query!r} the best of {len(hits)} matching passage(s) is chunk {best['chunk']} "
            f"of {best['job']}: \u201c{best['text'].strip()}\u201d"
        )
    if step.tool == "calculator" and isinstance(output, dict):
        return f"{output['expression']} = {output['value']}."
    if step.tool == "publish_report" and isinstance(output, dict):
        return f"The report is published as {output['key']} in {output['bucket']}."
    return f"{step.tool} returned {output!r}."


class DeterministicPolicy:
    """Search, calculate, optionally publish, then answer; see the module docstring."""

    name = "deterministic"

    async def next_action(self, run: Run, tools: Mapping[str, Tool]) -> Action:
        return self.decide(run, tools)

    def decide(self, run: Run, tools: Mapping[str, Tool]) -> Action:
        """The next action (pure: the same run always gives the same action)."""
        for question in questions(run):
            searchable = run.sources and "search" in tools and terms(question)
            if searchable and not _done(run, "search", "query", question):
                return ToolCall("search", {"query": question, "jobs": list(run.sources)})
            expression = find_expression(question)
            if (
                expression
                and "calculator" in tools
                and not _done(run, "calculator", "expression", expression)
            ):
                return ToolCall("calculator", {"expression": expression})
        published = any(s.tool == "publish_report" for s in run.steps)
        if _PUBLISH_RE.search(run.prompt) and "publish_report" in tools and not published:
            return ToolCall("publish_report", {"title": run.prompt[:120], "body": self.report(run)})
        return FinalAnswer(self.report(run))

    @staticmethod
    def report(run: Run) -> str:
        """The answer: one sentence per finished step, in order."""
        lines = [_describe(s) for s in run.steps if s.status in ("completed", "failed", "rejected")]
        return " ".join(lines) if lines else f"I have no tool that helps with {run.prompt!r}."
