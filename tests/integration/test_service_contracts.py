"""What the workflow reads of the ingest and agent services is what they send (runwire.contract.*).

The workflow imports only the contract; these run the real services on a real nats-server, take
their replies and stored events as they are, and read them the way the workflow does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

from runwire.contract.agent import CreateRunCommand, RunReply
from runwire.contract.ingest import CreateJobCommand, JobReply
from runwire.jetstream.commands import command_subject, send_command
from runwire.jetstream.event_store import EventStore
from runwire_agent.api import RunView
from runwire_agent.app import create_app as agent_app
from runwire_agent.config import AgentConfig
from runwire_ingest.api import JobView
from runwire_ingest.app import create_app as ingest_app
from runwire_ingest.config import IngestConfig
from runwire_workflow.children import child_event, reaction
from runwire_workflow.domain.commands import CompleteNode
from tests.integration.domain_services import settings_for, wait_for_type
from tests.support.http_server import serving

INGEST = IngestConfig(stage_delay_seconds=0.0, chunk_delay_seconds=0.0, share_work=False)
AGENT = AgentConfig(step_delay_seconds=0.0, share_work=False)
AT = datetime(2026, 1, 1, tzinfo=UTC)
DOCUMENT = "The quick brown fox jumps over the lazy dog. " * 60


async def create(nc: NATS, service: str, command: msgspec.Struct) -> dict[str, Any]:
    """The create command's reply as it came over NATS, undecoded."""
    reply: dict[str, Any] = await send_command(nc, command_subject(service, "create"), command, dict)
    return reply


async def test_the_ingest_reply_and_job_events_read_as_the_contract(
    nats_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateJobCommand(project=project, id="contract-load", text=DOCUMENT, chunk_size=200)
    async with serving(ingest_app(settings_for(nats_url), INGEST)):
        sent = await create(nc, "ingest", command)
        stored = await wait_for_type(store, project, "contract-load", "ingest.job.completed")
        done = msgspec.convert(await create(nc, "ingest", command), JobView)  # idempotent: the job now

    view, reply = msgspec.convert(sent, JobView), msgspec.convert(sent, JobReply)
    assert (reply.id, reply.project, reply.status) == (view.id, view.project, view.status)
    assert [s.event.type for s in stored if child_event(s.event) is None] == ["ingest.job.created"]
    assert reaction("load", "contract-load", stored[-1].event, stored[-1].seq, AT) == (
        CompleteNode(
            node="load",
            output={
                "job_id": "contract-load",
                "chunks": done.counts.chunks,
                "characters": done.counts.characters,
            },
            at=AT,
        )
    )
    assert done.counts.chunks > 1


async def test_the_agent_reply_and_run_events_read_as_the_contract(
    nats_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateRunCommand(project=project, id="contract-answer", prompt="what is 2 + 2")
    async with serving(agent_app(settings_for(nats_url), AGENT)):
        sent = await create(nc, "agent", command)
        stored = await wait_for_type(store, project, "contract-answer", "agent.run.completed")
        done = msgspec.convert(await create(nc, "agent", command), RunView)

    view, reply = msgspec.convert(sent, RunView), msgspec.convert(sent, RunReply)
    assert (reply.id, reply.project, reply.status) == (view.id, view.project, view.status)
    run_events = [s for s in stored if s.event.type.startswith("agent.run.")]
    assert [s.event.type for s in run_events if child_event(s.event) is None] == ["agent.run.created"]
    assert "agent.run.updated" in {s.event.type for s in run_events}
    last = run_events[-1]
    assert reaction("answer", "contract-answer", last.event, last.seq, AT) == CompleteNode(
        node="answer",
        output={"run_id": "contract-answer", "answer": done.answer, "steps": len(done.steps)},
        at=AT,
    )
    assert done.answer == "2 + 2 = 4."
