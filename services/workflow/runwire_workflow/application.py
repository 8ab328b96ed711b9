"""The workflow service's application: its commands and queries, called by the HTTP routes."""

from __future__ import annotations

import dataclasses

import msgspec

from runwire.contract.ids import fingerprint
from runwire.es.application import Application
from runwire.es.repository import Loaded
from runwire_workflow.api import RunView, run_view
from runwire_workflow.domain.commands import CancelRun, CreateRun, DecideGate, WorkflowCommand
from runwire_workflow.domain.decide import decide
from runwire_workflow.domain.definition import Definition
from runwire_workflow.domain.events import WorkflowEvent
from runwire_workflow.domain.state import WorkflowRun
from runwire_workflow.process import WorkflowProcess, now


@dataclasses.dataclass
class WorkflowApplication:
    """Creates, reads, lists and cancels runs and decides gates; the process does the rest."""

    runs: Application[WorkflowRun, WorkflowEvent]
    process: WorkflowProcess

    async def _command(
        self,
        project: str,
        run_id: str,
        command: WorkflowCommand,
        *,
        id_seed: str | None = None,
        existing: bool = True,
    ) -> tuple[Loaded[WorkflowRun], bool]:
        """Execute the command and let the process carry the run on from there.

        Returns the run afterwards (as held here: no read) and whether the command recorded anything.
        """
        outcome = await self.process.handle(
            project, run_id, lambda run: decide(command, run), id_seed=id_seed, existing=existing
        )
        return await self.runs.state(project, run_id), bool(outcome.events)

    async def create(
        self, project: str, run_id: str, definition: Definition
    ) -> tuple[Loaded[WorkflowRun], bool]:
        """Create the run and start its first nodes (or find the run this very request created)."""
        command = CreateRun(
            definition=definition, fingerprint=fingerprint(msgspec.to_builtins(definition)), at=now()
        )
        seed = f"create/{command.fingerprint}"
        return await self._command(project, run_id, command, id_seed=seed, existing=False)

    async def get(self, project: str, run_id: str) -> Loaded[WorkflowRun]:
        """The run's current state, or NotFound."""
        return await self.runs.get(project, run_id)

    async def list_runs(self, project: str) -> list[RunView]:
        """Every run of the project, oldest first."""
        runs = await self.runs.list(project, "workflow.>")
        return [run_view(run, version, with_definition=False) for run, version in runs]

    async def decide_gate(
        self, project: str, run_id: str, node: str, approve: bool, by: str, note: str
    ) -> Loaded[WorkflowRun]:
        """Approve or reject a paused gate."""
        command = DecideGate(node=node, approve=approve, by=by, note=note, at=now())
        loaded, _ = await self._command(project, run_id, command)
        return loaded

    async def cancel(self, project: str, run_id: str, reason: str, by: str) -> Loaded[WorkflowRun]:
        """Cancel the run and its running children."""
        loaded, _ = await self._command(project, run_id, CancelRun(reason=reason, by=by, at=now()))
        return loaded
