"""The `calculator` tool: exact arithmetic on an expression, through the safe parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runwire_agent.domain.events import Risk
from runwire_agent.tools.calculator import CalculatorError, evaluate
from runwire_agent.tools.toolbox import ToolContext, ToolFailed


class CalculatorTool:
    """Evaluates `{"expression": "17 * (3 + 4)"}` to `{"expression": ..., "value": 119}`."""

    name = "calculator"
    description = "Evaluate an arithmetic expression exactly (+ - * / // % ** and parentheses)."
    risk: Risk = "low"

    def estimate_cost(self, arguments: Mapping[str, Any]) -> float:
        return 0.0

    async def run(self, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        expression = str(arguments.get("expression", ""))
        try:
            return {"expression": expression, "value": evaluate(expression)}
        except CalculatorError as exc:
            raise ToolFailed(str(exc)) from exc
