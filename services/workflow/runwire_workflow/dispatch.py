"""Commands from the workflow to the ingest and agent services (NATS request/reply `runwire.cmd.*`).

The commands and the replies' fields read here are contract (runwire.contract.ingest, .agent): no
code of those services is imported. A node's child is created under a fixed id, so re-sending after
a restart or a timeout creates nothing new.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nats.aio.client import Client as NATS

from runwire.contract.agent import CreateRunCommand, RunReply
from runwire.contract.ingest import CreateJobCommand, JobReply
from runwire.jetstream.commands import CancelCommand, command_subject, send_command
from runwire_workflow.children import job_ids
from runwire_workflow.domain.definition import AgentNode, IngestNode
from runwire_workflow.domain.state import WorkflowRun

SERVICE_OF_KIND = {"ingest": "ingest", "agent": "agent"}


@dataclasses.dataclass
class Dispatcher:
    """Creates and cancels the children of nodes; raises CommandFailed or CommandUnavailable."""

    nc: NATS
    timeout_seconds: float

    async def create(self, run: WorkflowRun, node_id: str, child: str) -> dict[str, Any]:
        """Create the node's child; returns the child state to mirror (its status)."""
        assert run.definition is not None
        node = run.definition.node(node_id)
        if isinstance(node, IngestNode):
            job = CreateJobCommand(
                project=run.project,
                id=child,
                text=node.document,
                name=node.name,
                chunk_size=node.chunk_size,
                chunk_overlap=node.chunk_overlap,
            )
            view = await send_command(
                self.nc,
                command_subject("ingest", "create"),
                job,
                JobReply,
                timeout_seconds=self.timeout_seconds,
            )
            return {"status": view.status}
        assert isinstance(node, AgentNode)
        sources = job_ids(run.inputs_of(node_id))
        agent_run = CreateRunCommand(
            project=run.project, id=child, prompt=node.prompt, sources=sources, max_steps=node.max_steps
        )
        agent_view = await send_command(
            self.nc,
            command_subject("agent", "create"),
            agent_run,
            RunReply,
            timeout_seconds=self.timeout_seconds,
        )
        return {"status": agent_view.status}

    async def cancel(self, project: str, kind: str, child: str, reason: str) -> None:
        """Cancel a node's child (refusals, e.g. an already finished child, are the caller's to ignore)."""
        command = CancelCommand(project=project, id=child, reason=reason, by="workflow")
        await send_command(
            self.nc,
            command_subject(SERVICE_OF_KIND[kind], "cancel"),
            command,
            dict,
            timeout_seconds=self.timeout_seconds,
        )
