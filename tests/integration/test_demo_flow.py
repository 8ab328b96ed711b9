"""The `make demo` flow end to end against real services and a real nats-server, and the events it leaves.

The three domain services run on real sockets; the demo drives them over HTTP exactly as
`python -m runwire_dev.demo` does; the assertions read the events back from JetStream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest_asyncio

from runwire.jetstream.event_store import EventStore, StoredEvent
from runwire.web.auth import issue_token
from runwire_agent.app import create_app as agent_app
from runwire_agent.config import AgentConfig
from runwire_dev.demo import DemoResult, Endpoints, run_demo
from runwire_ingest.app import create_app as ingest_app
from runwire_ingest.config import IngestConfig
from runwire_workflow.app import create_app as workflow_app
from runwire_workflow.config import WorkflowConfig
from tests.integration.domain_services import SECRET, settings_for
from tests.support.http_server import serving


@dataclass(frozen=True)
class Flow:
    """What one demo run created, and every event it left per aggregate."""

    result: DemoResult
    events: dict[str, list[StoredEvent]]
    lines: list[str]

    @property
    def project(self) -> str:
        return self.result.project


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def flow(nats_url: str) -> AsyncIterator[Flow]:
    """The demo, run once for the module against the three services."""
    settings = settings_for(nats_url)
    project = f"t-demo-{uuid.uuid4().hex[:8]}"
    fast_ingest = IngestConfig(stage_delay_seconds=0.0, chunk_delay_seconds=0.0, share_work=False)
    async with (
        serving(ingest_app(settings, fast_ingest)) as ingest,
        serving(agent_app(settings, AgentConfig(step_delay_seconds=0.0, share_work=False))) as agent,
        serving(workflow_app(settings, WorkflowConfig(share_work=False))) as workflow,
    ):
        lines: list[str] = []
        token = issue_token(SECRET, "demo", [project])
        result = await run_demo(
            Endpoints(ingest, agent, workflow), token, project, say=lines.append, limit_seconds=30
        )
    nc = await nats.connect(nats_url)
    try:
        store = EventStore(nc)
        aggregates = (
            result.job,
            result.agent_run,
            result.workflow_run,
            f"{result.workflow_run}-load",
            f"{result.workflow_run}-summarise",
        )
        events = {aggregate: await store.read_aggregate(project, aggregate) for aggregate in aggregates}
    finally:
        await nc.close()
    yield Flow(result=result, events=events, lines=lines)


def test_the_workflow_run_records_every_node_kind_in_order(flow: Flow) -> None:
    stored = flow.events[flow.result.workflow_run]
    summary = [
        (s.event.type, (s.event.data or {}).get("node") or (s.event.data or {}).get("status")) for s in stored
    ]
    assert summary == [
        ("workflow.run.created", None),
        ("workflow.node.started", "load"),
        ("workflow.node_state.updated", "load"),
        ("workflow.node_state.updated", "load"),
        ("workflow.node_state.updated", "load"),
        ("workflow.node_state.updated", "load"),
        ("workflow.node.completed", "load"),
        ("workflow.run.updated", "running"),
        ("workflow.node.started", "settle"),
        ("workflow.node.completed", "settle"),
        ("workflow.run.updated", "running"),
        ("workflow.node.started", "review"),
        ("workflow.gate.paused", "review"),
        ("workflow.run.updated", "paused"),
        ("workflow.gate.auto_approved", "review"),
        ("workflow.node.completed", "review"),
        ("workflow.run.resumed", "review"),
        ("workflow.run.updated", "running"),
        ("workflow.node.started", "summarise"),
        ("workflow.node_state.updated", "summarise"),
        ("workflow.node_state.updated", "summarise"),
        ("workflow.node.completed", "summarise"),
        ("workflow.run.updated", "running"),
        ("workflow.run.completed", None),
    ]


def test_the_workflow_mirrors_its_children_and_passes_outputs_on(flow: Flow) -> None:
    stored = flow.events[flow.result.workflow_run]
    mirrored = [
        (s.event.data["node"], s.event.data["state"])
        for s in stored
        if s.event.type == "workflow.node_state.updated"
    ]
    assert mirrored == [
        ("load", {"status": "queued"}),
        ("load", {"status": "processing", "stage": "PREPROCESSING"}),
        ("load", {"status": "processing", "stage": "CHUNKING"}),
        ("load", {"status": "processing", "stage": "INDEXING"}),
        ("summarise", {"status": "queued"}),
        ("summarise", {"status": "running"}),
    ]
    outputs = stored[-1].event.data["outputs"]
    job = f"{flow.result.workflow_run}-load"
    assert outputs["load"] == {"job_id": job, "chunks": 2, "characters": 129}
    assert outputs["review"]["by"] == "timeout"
    assert outputs["summarise"]["answer"].startswith(
        "For 'What do foxes eat? And how much is 12 * 12?' the best of"
    )
    assert outputs["summarise"]["answer"].endswith("12 * 12 = 144.")


def test_the_gate_approved_itself_at_its_deadline(flow: Flow) -> None:
    stored = flow.events[flow.result.workflow_run]
    paused = next(s.event for s in stored if s.event.type == "workflow.gate.paused")
    approved = next(s.event for s in stored if s.event.type == "workflow.gate.auto_approved")
    assert paused.data["on_timeout"] == "approve"
    assert approved.data["deadline"] == paused.data["deadline"]
    assert approved.time is not None and approved.time.isoformat() >= paused.data["deadline"].replace(
        "Z", "+00:00"
    )


def test_the_ingest_job_goes_through_every_stage(flow: Flow) -> None:
    stored = flow.events[flow.result.job]
    chunks = stored[-1].event.data["counts"]["chunks"]
    assert [(s.event.type, (s.event.data or {}).get("stage")) for s in stored] == [
        ("ingest.job.created", None),
        ("ingest.job.updated", "PREPROCESSING"),
        ("ingest.job.updated", "CHUNKING"),
        *[("ingest.job.updated", "INDEXING")] * chunks,
        ("ingest.job.completed", None),
    ]
    assert chunks == 4


def test_the_agent_run_asks_for_approval_before_publishing(flow: Flow) -> None:
    stored = flow.events[flow.result.agent_run]
    summary = [
        (s.event.type, (s.event.data or {}).get("tool") or (s.event.data or {}).get("status")) for s in stored
    ]
    assert summary == [
        ("agent.run.created", None),
        ("agent.message.appended", None),
        ("agent.run.updated", "running"),
        ("agent.step.updated", "search"),
        ("agent.step.updated", "search"),
        ("agent.step.updated", "calculator"),
        ("agent.step.updated", "calculator"),
        ("agent.approval.requested", "publish_report"),
        ("agent.run.updated", "waiting_approval"),
        ("agent.approval.granted", None),
        ("agent.run.updated", "running"),
        ("agent.step.updated", "publish_report"),
        ("agent.step.updated", "publish_report"),
        ("agent.message.appended", None),
        ("agent.run.completed", None),
    ]
    assert (
        stored[-1]
        .event.data["answer"]
        .endswith(f"The report is published as {flow.project}.{flow.result.agent_run} in runwire-reports.")
    )


def test_the_workflows_agent_searched_the_workflows_own_ingest_job(flow: Flow) -> None:
    run = flow.result.workflow_run
    created = flow.events[f"{run}-summarise"][0].event
    assert created.data["sources"] == [f"{run}-load"]
    assert flow.events[f"{run}-load"][-1].event.type == "ingest.job.completed"


def test_the_demo_says_what_it_did_and_ends_with_the_run(flow: Flow) -> None:
    r = flow.result
    assert [line.split(":")[0] for line in flow.lines] == [
        f"ingest job {r.job} created",
        f"ingest job {r.job} completed",
        f"agent run {r.agent_run} started",
        f"agent run {r.agent_run} asks to run publish_report (risk high, estimated $0.0172); approving",
        "agent answered",
        f"workflow run {r.workflow_run} started",
        f"workflow run {r.workflow_run} completed (gate approved by timeout)",
        "workflow answer",
    ]
    assert flow.lines[5].endswith("load -> settle -> review -> summarise")
