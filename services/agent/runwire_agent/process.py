"""The agent service's process: each unfinished run goes step by step (ask the policy, ask for
approval when the tool is risky, run the tool).

Every loop starts from the run's state, so a run resumed after a restart carries on from its last
recorded step (a step that was in flight is run again; tools are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runwire.es.application import Application
from runwire.es.process import ProcessManager, ProcessSettings
from runwire_agent.config import AgentConfig
from runwire_agent.domain.commands import (
    AgentCommand,
    CompleteRun,
    FailRun,
    FinishStep,
    RequestApproval,
    StartRun,
    StartStep,
)
from runwire_agent.domain.decide import decide
from runwire_agent.domain.events import TERMINAL_TYPES, AgentEvent
from runwire_agent.domain.state import Run
from runwire_agent.policy import FinalAnswer, Policy, ToolCall
from runwire_agent.tools.toolbox import Tool, ToolContext, ToolFailed, needs_approval

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


class RunProcess(ProcessManager[Run, AgentEvent]):
    """One task per unfinished run; a command on a waiting run (approval, message, cancel) wakes it."""

    created_type = "agent.run.created"
    terminal_types = TERMINAL_TYPES
    aggregate_types = "agent.run.>"

    def __init__(
        self,
        app: Application[Run, AgentEvent],
        policies: Mapping[str, Policy],
        tools: Mapping[str, Tool],
        config: AgentConfig,
        settings: ProcessSettings | None = None,
    ) -> None:
        super().__init__(app, "agent", settings)
        self.policies = policies
        self.tools = tools
        self.config = config
        self._wakeups: dict[tuple[str, str], asyncio.Event] = {}

    async def carry_on(self, state: Run) -> None:
        """Start the run's task, or wake it if it is waiting."""
        if not state.exists or state.terminal:
            return
        key = (state.project, state.id)
        if not self.tasks.start(key, lambda: self.run(state.project, state.id)):
            wakeup = self._wakeups.get(key)
            if wakeup is not None:
                wakeup.set()

    async def run(self, project: str, run_id: str) -> None:
        """Drive a run until it is terminal (or the service stops)."""
        wakeup = self._wakeups.setdefault((project, run_id), asyncio.Event())
        try:
            await self.drive(
                project,
                run_id,
                lambda: self._loop(project, run_id, wakeup),
                lambda error: self._execute(project, run_id, FailRun(error=error, at=now())),
            )
        finally:
            self._wakeups.pop((project, run_id), None)

    async def _execute(self, project: str, run_id: str, command: AgentCommand) -> Run:
        outcome = await self.handle(project, run_id, lambda run: decide(command, run))
        return outcome.state

    async def _loop(self, project: str, run_id: str, wakeup: asyncio.Event) -> None:
        waited = False
        while True:
            wakeup.clear()
            # After a wait that nothing here ended, read the stream: another process may have decided.
            run = (await (self.app.load if waited else self.app.state)(project, run_id)).state
            waited = False
            if not run.exists or run.terminal:
                return
            if run.status == "queued":
                await self._execute(project, run_id, StartRun(at=now()))
                continue
            if run.status == "waiting_approval":
                try:
                    await asyncio.wait_for(wakeup.wait(), self.config.approval_poll_seconds)
                except TimeoutError:
                    waited = True
                continue
            await self._step(run)
            await asyncio.sleep(self.config.step_delay_seconds)

    async def _step(self, run: Run) -> None:
        """One step of a running run: finish the step in flight, or do what the policy says next."""
        in_flight = run.step_in_flight
        if in_flight is not None:
            await self._use_tool(run, in_flight.index, in_flight.tool, in_flight.input)
            return
        policy = self.policies.get(run.policy)
        if policy is None:
            error = f"policy {run.policy!r} is not available in this agent service"
            await self._execute(run.project, run.id, FailRun(error=error, at=now()))
            return
        if len(run.steps) >= run.max_steps:
            error = f"the policy did not finish within max_steps={run.max_steps}"
            await self._execute(run.project, run.id, FailRun(error=error, at=now()))
            return
        action = await policy.next_action(run, self.tools)
        if isinstance(action, FinalAnswer):
            await self._execute(run.project, run.id, CompleteRun(answer=action.text, at=now()))
            return
        await self._call(run, action)

    async def _call(self, run: Run, call: ToolCall) -> None:
        tool = self.tools.get(call.tool)
        if tool is None:
            error = f"the policy asked for the unknown tool {call.tool!r}"
            await self._execute(run.project, run.id, FailRun(error=error, at=now()))
            return
        index = len(run.steps)
        if needs_approval(tool):
            request = RequestApproval(
                index=index,
                tool=tool.name,
                input=call.arguments,
                risk=tool.risk,
                estimated_cost=tool.estimate_cost(call.arguments),
                reason=tool.description,
                at=now(),
            )
            await self._execute(run.project, run.id, request)
            return
        await self._use_tool(run, index, tool.name, call.arguments)

    async def _use_tool(self, run: Run, index: int, name: str, arguments: dict[str, Any]) -> None:
        """Record the step as running, run the tool, record its output (or error) and duration."""
        await self._execute(run.project, run.id, StartStep(index=index, tool=name, input=arguments, at=now()))
        tool = self.tools.get(name)
        started = time.perf_counter()
        output: Any = None
        error: str | None = None
        try:
            if tool is None:
                raise ToolFailed(f"the tool {name!r} is not available in this agent service")
            output = await asyncio.wait_for(
                tool.run(ToolContext(run.project, run.id), arguments), self.config.tool_timeout_seconds
            )
        except ToolFailed as exc:
            error = str(exc)
        except TimeoutError:
            error = f"the tool did not answer within {self.config.tool_timeout_seconds}s"
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        finish = FinishStep(index=index, output=output, error=error, duration_ms=duration_ms, at=now())
        await self._execute(run.project, run.id, finish)
