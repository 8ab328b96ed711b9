"""The agent service's application: its commands and queries, shared by the HTTP routes and NATS commands."""

from __future__ import annotations

import dataclasses

from runwire.contract.agent import CreateRunCommand, CreateRunRequest
from runwire.contract.ids import fingerprint
from runwire.contract.rejections import InvalidCommand
from runwire.es.application import Application
from runwire.es.repository import Loaded
from runwire.jetstream.commands import CancelCommand
from runwire_agent.api import RunView, run_view
from runwire_agent.config import AgentConfig
from runwire_agent.domain.commands import AgentCommand, AppendMessage, Approve, CancelRun, CreateRun, Reject
from runwire_agent.domain.decide import decide
from runwire_agent.domain.events import AgentEvent
from runwire_agent.domain.state import Run
from runwire_agent.process import RunProcess, now


@dataclasses.dataclass
class AgentApplication:
    """Creates, reads, lists, messages, approves, rejects and cancels runs; their process drives them."""

    runs: Application[Run, AgentEvent]
    process: RunProcess
    config: AgentConfig

    async def create(self, project: str, run_id: str, request: CreateRunRequest) -> tuple[Loaded[Run], bool]:
        """Create the run (or find the one this very request created before); True if new."""
        if request.policy not in self.process.policies:
            available = ", ".join(sorted(self.process.policies))
            raise InvalidCommand(f"unknown policy {request.policy!r}; available: {available}", field="policy")
        max_steps = request.max_steps or self.config.max_steps
        command = CreateRun(
            prompt=request.prompt,
            sources=list(request.sources),
            policy=request.policy,
            max_steps=max_steps,
            fingerprint=fingerprint([request.prompt, request.sources, request.policy, max_steps]),
            at=now(),
        )
        outcome = await self.process.handle(
            project, run_id, lambda run: decide(command, run), id_seed=f"create/{command.fingerprint}"
        )
        return Loaded(outcome.state, outcome.version), bool(outcome.events)

    async def get(self, project: str, run_id: str) -> Loaded[Run]:
        """The run's current state, or NotFound."""
        return await self.runs.get(project, run_id)

    async def list_runs(self, project: str) -> list[RunView]:
        """Every run of the project, oldest first."""
        return [run_view(*loaded) for loaded in await self.runs.list(project, "agent.>")]

    async def _command(self, project: str, run_id: str, command: AgentCommand) -> Loaded[Run]:
        outcome = await self.process.handle(project, run_id, lambda run: decide(command, run), existing=True)
        return Loaded(outcome.state, outcome.version)

    async def append_message(self, project: str, run_id: str, content: str) -> Loaded[Run]:
        """Add a user message to an unfinished run."""
        return await self._command(project, run_id, AppendMessage(content=content, at=now()))

    async def approve(self, project: str, run_id: str, by: str, comment: str) -> Loaded[Run]:
        """Let the pending risky step run."""
        return await self._command(project, run_id, Approve(by=by, comment=comment, at=now()))

    async def reject(self, project: str, run_id: str, by: str, reason: str) -> Loaded[Run]:
        """Refuse the pending risky step."""
        return await self._command(project, run_id, Reject(by=by, reason=reason, at=now()))

    async def cancel(self, project: str, run_id: str, reason: str, by: str) -> Loaded[Run]:
        """Stop an unfinished run."""
        return await self._command(project, run_id, CancelRun(reason=reason, by=by, at=now()))

    async def on_create_command(self, command: CreateRunCommand) -> RunView:
        """`runwire.cmd.agent.create`: the workflow service names the run id itself."""
        fields = {f: getattr(command, f) for f in CreateRunRequest.__struct_fields__}
        loaded, _ = await self.create(command.project, command.id, CreateRunRequest(**fields))
        return run_view(*loaded)

    async def on_cancel_command(self, command: CancelCommand) -> RunView:
        """`runwire.cmd.agent.cancel`."""
        return run_view(*await self.cancel(command.project, command.id, command.reason, command.by))
