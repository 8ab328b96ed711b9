"""Workflow runs against real ingest and agent services: ordering, parallelism, outputs, gates, failures."""

from __future__ import annotations

from typing import Any

import httpx

from runwire.jetstream.event_store import EventStore, StoredEvent
from runwire_workflow.app import create_app as workflow_app
from tests.integration.domain_services import auth, settings_for, types_of, wait_for_type
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.workflow.conftest import WORKFLOW

DONE = ("workflow.run.completed", "workflow.run.failed", "workflow.run.cancelled")
DOC = "Foxes are small omnivorous mammals. The red fox is the largest of the true foxes."


def ingest(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": "ingest", "document": DOC, **extra}


def node_events(stored: list[StoredEvent]) -> list[tuple[str, str | None]]:
    return [(s.event.type, (s.event.data or {}).get("node")) for s in stored]


async def start(client: httpx.AsyncClient, definition: dict[str, Any]) -> str:
    response = await client.post("/runs", json=definition)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


async def test_independent_nodes_start_together(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(
        client,
        {
            "nodes": [
                ingest("a"),
                ingest("b"),
                {"id": "c", "kind": "delay", "seconds": 0, "needs": ["a", "b"]},
            ]
        },
    )
    stored = await wait_for_type(store, project, run_id, DONE)
    events = node_events(stored)
    assert events[1:3] == [("workflow.node.started", "a"), ("workflow.node.started", "b")]
    assert events.index(("workflow.node.started", "c")) > max(
        events.index(("workflow.node.completed", "a")), events.index(("workflow.node.completed", "b"))
    )
    assert stored[-1].event.type == "workflow.run.completed"


async def test_outputs_flow_to_dependants(client: httpx.AsyncClient, store: EventStore, project: str) -> None:
    run_id = await start(
        client,
        {"nodes": [ingest("load"), {"id": "ask", "kind": "agent", "prompt": "foxes", "needs": ["load"]}]},
    )
    await wait_for_type(store, project, run_id, DONE)
    run = (await client.get(f"/runs/{run_id}")).json()
    ask = run["nodes"][1]
    assert ask["input"] == {"load": {"job_id": f"{run_id}-load", "chunks": 1, "characters": len(DOC)}}
    assert ask["output"]["run_id"] == f"{run_id}-ask"
    assert f"chunk 0 of {run_id}-load" in ask["output"]["answer"]
    assert run["outputs"]["ask"] == ask["output"]


async def test_children_are_created_with_the_nodes_settings(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(client, {"nodes": [ingest("load", chunk_size=50, chunk_overlap=5, name="fox.txt")]})
    await wait_for_type(store, project, run_id, DONE)
    created = (await store.read_aggregate(project, f"{run_id}-load"))[0].event
    assert {k: created.data[k] for k in ("name", "chunk_size", "chunk_overlap")} == {
        "name": "fox.txt",
        "chunk_size": 50,
        "chunk_overlap": 5,
    }


async def test_a_gate_waits_for_a_human_approval(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(
        client,
        {
            "nodes": [
                {"id": "ok", "kind": "gate", "message": "ship it?"},
                {"id": "after", "kind": "delay", "seconds": 0, "needs": ["ok"]},
            ]
        },
    )
    paused = await wait_for_type(store, project, run_id, "workflow.gate.paused")
    assert next(s.event.data for s in paused if s.event.type == "workflow.gate.paused") == {
        "node": "ok",
        "message": "ship it?",
        "deadline": None,
        "on_timeout": "reject",
    }
    response = await client.post(f"/runs/{run_id}/gates/ok/approve", json={"comment": "yes"})
    assert response.status_code == 200
    stored = await wait_for_type(store, project, run_id, DONE)
    assert node_events(stored) == [
        ("workflow.run.created", None),
        ("workflow.node.started", "ok"),
        ("workflow.gate.paused", "ok"),
        ("workflow.run.updated", None),
        ("workflow.gate.approved", "ok"),
        ("workflow.node.completed", "ok"),
        ("workflow.run.resumed", "ok"),
        ("workflow.run.updated", None),
        ("workflow.node.started", "after"),
        ("workflow.node.completed", "after"),
        ("workflow.run.updated", None),
        ("workflow.run.completed", None),
    ]
    assert stored[4].event.data == {"node": "ok", "by": "tester", "comment": "yes"}


async def test_a_rejected_gate_fails_the_run(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(client, {"nodes": [{"id": "ok", "kind": "gate"}]})
    await wait_for_type(store, project, run_id, "workflow.gate.paused")
    await client.post(f"/runs/{run_id}/gates/ok/reject", json={"reason": "not ready"})
    stored = await wait_for_type(store, project, run_id, DONE)
    assert [s.event.type for s in stored[-3:]] == [
        "workflow.gate.rejected",
        "workflow.node.failed",
        "workflow.run.failed",
    ]
    assert stored[-1].event.data == {"error": "node ok failed: rejected by tester: not ready", "node": "ok"}


async def test_a_gate_times_out_into_a_rejection_when_so_configured(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(client, {"nodes": [{"id": "ok", "kind": "gate", "timeout_seconds": 0.2}]})
    stored = await wait_for_type(store, project, run_id, DONE)
    assert [s.event.type for s in stored[-3:]] == [
        "workflow.gate.auto_rejected",
        "workflow.node.failed",
        "workflow.run.failed",
    ]


async def test_a_gate_times_out_into_an_approval_when_so_configured(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(
        client, {"nodes": [{"id": "ok", "kind": "gate", "timeout_seconds": 0.2, "on_timeout": "approve"}]}
    )
    stored = await wait_for_type(store, project, run_id, DONE)
    assert [s.event.type for s in stored[-5:]] == [
        "workflow.gate.auto_approved",
        "workflow.node.completed",
        "workflow.run.resumed",
        "workflow.run.updated",
        "workflow.run.completed",
    ]


async def test_a_failed_child_fails_its_node_and_the_run(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(
        client,
        {
            "nodes": [
                {"id": "load", "kind": "ingest", "document": "\x00 \x01"},
                {"id": "next", "kind": "delay", "seconds": 0, "needs": ["load"]},
            ]
        },
    )
    stored = await wait_for_type(store, project, run_id, DONE)
    assert stored[-1].event.type == "workflow.run.failed"
    assert stored[-1].event.data == {
        "error": f"node load failed: ingest job {run_id}-load failed: "
        "the document is empty after normalisation",
        "node": "load",
    }
    assert ("workflow.node.started", "next") not in node_events(stored)


async def test_cancelling_a_run_cancels_its_running_child(
    slow_client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(
        slow_client,
        {
            "nodes": [
                {
                    "id": "load",
                    "kind": "ingest",
                    "document": "x" * 3000,
                    "chunk_size": 100,
                    "chunk_overlap": 0,
                }
            ]
        },
    )
    await wait_for_type(store, project, f"{run_id}-load", "ingest.job.updated")
    response = await slow_client.post(f"/runs/{run_id}/cancel", json={"reason": "changed plans"})
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    child = await wait_for_type(store, project, f"{run_id}-load", "ingest.job.cancelled")
    assert child[-1].event.data["reason"] == f"workflow run {run_id} is cancelled"
    assert (await types_of(store, project, run_id))[-1] == "workflow.run.cancelled"


async def test_an_unanswered_command_fails_the_node_after_the_retry_window(
    nats_url: str, store: EventStore, project: str
) -> None:
    app = workflow_app(settings_for(nats_url), WORKFLOW)
    async with serving(app) as url, httpx.AsyncClient(headers=auth(project)) as client:
        client.base_url = httpx.URL(f"{url}/v1/projects/{project}/workflow")
        run_id = await start(client, {"nodes": [ingest("load")]})
        stored = await wait_for_type(store, project, run_id, DONE)
    assert stored[-1].event.data == {
        "error": "node load failed: no service answers runwire.cmd.ingest.create (retried for 1s)",
        "node": "load",
    }


async def test_the_run_projection_mirrors_each_child(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await start(client, {"nodes": [ingest("load")]})
    await wait_for_type(store, project, run_id, DONE)

    async def mirrored() -> list[dict[str, Any]] | None:
        stored = await store.read_aggregate(project, run_id)
        states = [s.event.data["state"] for s in stored if s.event.type == "workflow.node_state.updated"]
        return states or None

    assert await eventually(mirrored) == [
        {"status": "queued"},
        {"status": "processing", "stage": "PREPROCESSING"},
        {"status": "processing", "stage": "CHUNKING"},
        {"status": "processing", "stage": "INDEXING"},
    ]
