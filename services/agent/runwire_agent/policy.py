"""The pluggable decision-maker of an agent run: given the run so far, choose the next action.

A real LLM client implements `Policy` by prompting its model with the run's messages and step
outputs and parsing a tool call or a final answer out of the reply; the run process does the rest
(approvals, events, restarts). Policies must be resumable: they decide from the run state alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from runwire_agent.domain.state import Run
from runwire_agent.tools.toolbox import Tool


class ToolCall(msgspec.Struct, frozen=True):
    """Run `tool` with `arguments` as the next step."""

    tool: str
    arguments: dict[str, Any]


class FinalAnswer(msgspec.Struct, frozen=True):
    """The run is done: this is the answer."""

    text: str


Action = ToolCall | FinalAnswer


class Policy(Protocol):
    """Chooses each next action of a run; `name` is what runs record in `agent.run.created`."""

    @property
    def name(self) -> str: ...

    async def next_action(self, run: Run, tools: Mapping[str, Tool]) -> Action:
        """The next action, from the run's prompt, messages and finished steps."""
        ...
