"""The workflow service's command handlers, called by the HTTP routes."""

from __future__ import annotations

import dataclasses

import msgspec

from runwire.contract.ids import fingerprint
from runwire.es.aggregate import Loaded, Repository, load_existing
from runwire_workflow.api import RunView, run_view
from runwire_workflow.domain.commands import CancelRun, CreateRun, DecideGate
from runwire_workflow.domain.definition import Definition
from runwire_workflow.domain.events import WorkflowEvent
from runwire_workflow.domain.state import WorkflowRun
from runwire_workflow.manager import WorkflowManager, now


@dataclasses.dataclass
class WorkflowService:
    """Creates, reads, lists and cancels runs and decides gates; the manager does the rest."""

    repo: Repository[WorkflowRun, WorkflowEvent]
    manager: WorkflowManager

    async def create(
        self, project: str, run_id: str, definition: Definition
    ) -> tuple[Loaded[WorkflowRun], bool]:
        """Create the run and start its first nodes (or find the run this very request created)."""
        command = CreateRun(
            definition=definition, fingerprint=fingerprint(msgspec.to_builtins(definition)), at=now()
        )
        return await self.manager.command(project, run_id, command, id_seed=f"create/{command.fingerprint}")

    async def get(self, project: str, run_id: str) -> Loaded[WorkflowRun]:
        """The run's current state, or NotFound."""
        return await load_existing(self.repo, project, run_id, "workflow run")

    async def list_runs(self, project: str) -> list[RunView]:
        """Every run of the project, oldest first."""
        runs = await self.repo.list_project(project, "workflow.>")
        return [run_view(run, version, with_definition=False) for run, version in runs]

    async def decide_gate(
        self, project: str, run_id: str, node: str, approve: bool, by: str, note: str
    ) -> Loaded[WorkflowRun]:
        """Approve or reject a paused gate."""
        await self.get(project, run_id)
        command = DecideGate(node=node, approve=approve, by=by, note=note, at=now())
        loaded, _ = await self.manager.command(project, run_id, command)
        return loaded

    async def cancel(self, project: str, run_id: str, reason: str, by: str) -> Loaded[WorkflowRun]:
        """Cancel the run and its running children."""
        await self.get(project, run_id)
        loaded, _ = await self.manager.command(project, run_id, CancelRun(reason=reason, by=by, at=now()))
        return loaded
