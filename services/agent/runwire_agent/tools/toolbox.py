"""What a tool is to the agent: a name, a risk level, a cost estimate and an async `run`.

Risky tools (risk "high") run only after a human approves the step; the estimate is shown to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from runwire_agent.domain.events import Risk


@dataclass(frozen=True)
class ToolContext:
    """Where a tool runs: the run's project and id (tools scope what they read and write by them)."""

    project: str
    run_id: str


class ToolFailed(Exception):
    """The tool ran and could not do what was asked; the message is recorded as the step's error."""


class Tool(Protocol):
    """One capability the policy may use."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def risk(self) -> Risk: ...

    def estimate_cost(self, arguments: Mapping[str, Any]) -> float:
        """Estimated cost in USD of running with these arguments (shown when approval is asked)."""
        ...

    async def run(self, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        """Do the work; return JSON-compatible output or raise ToolFailed."""
        ...


def needs_approval(tool: Tool) -> bool:
    """Whether a step with this tool waits for a human."""
    return tool.risk == "high"
