"""Restart safety: kill -9 the workflow service mid-run; started again, every run ends terminal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import ServiceProcess, auth, types_of, wait_for_type
from tests.workflow.conftest import SLOW_INGEST, children

DONE = ("workflow.run.completed", "workflow.run.failed", "workflow.run.cancelled")


@pytest.fixture
async def service(nats_url: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess("runwire_workflow", 3, nats_url, tmp_path)
    try:
        yield process
    finally:
        process.stop()


async def start(service: ServiceProcess, project: str, definition: dict[str, object]) -> str:
    async with httpx.AsyncClient(base_url=service.base_url, headers=auth(project)) as client:
        response = await client.post(f"/v1/projects/{project}/workflow/runs", json=definition)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


async def test_a_gate_timeout_survives_a_kill(
    nats_url: str, service: ServiceProcess, store: EventStore, project: str
) -> None:
    await service.start()
    run_id = await start(
        service,
        project,
        {
            "nodes": [
                {"id": "ok", "kind": "gate", "timeout_seconds": 1.0, "on_timeout": "approve"},
                {"id": "after", "kind": "delay", "seconds": 0, "needs": ["ok"]},
            ]
        },
    )
    await wait_for_type(store, project, run_id, "workflow.gate.paused")
    service.kill()
    await service.start()
    stored = await wait_for_type(store, project, run_id, DONE, timeout=30)
    assert [(s.event.type, (s.event.data or {}).get("reason")) for s in stored] == [
        ("workflow.run.created", None),
        ("workflow.node.started", None),
        ("workflow.gate.paused", None),
        ("workflow.run.updated", None),
        ("workflow.run.resumed", "restarted"),
        ("workflow.gate.auto_approved", None),
        ("workflow.node.completed", None),
        ("workflow.run.resumed", "gate_auto_approved"),
        ("workflow.run.updated", None),
        ("workflow.node.started", None),
        ("workflow.node.completed", None),
        ("workflow.run.updated", None),
        ("workflow.run.completed", None),
    ]


async def test_a_child_that_finished_while_the_service_was_down_is_caught_up(
    nats_url: str, service: ServiceProcess, store: EventStore, project: str
) -> None:
    async with children(nats_url, SLOW_INGEST):
        await service.start()
        run_id = await start(
            service,
            project,
            {
                "nodes": [
                    {
                        "id": "load",
                        "kind": "ingest",
                        "document": "x" * 600,
                        "chunk_size": 100,
                        "chunk_overlap": 0,
                    },
                    {"id": "ask", "kind": "agent", "prompt": "what is 6 * 7", "needs": ["load"]},
                ]
            },
        )
        await wait_for_type(store, project, f"{run_id}-load", "ingest.job.updated")
        service.kill()
        await wait_for_type(store, project, f"{run_id}-load", "ingest.job.completed")
        assert "workflow.node.completed" not in await types_of(store, project, run_id)
        await service.start()
        stored = await wait_for_type(store, project, run_id, DONE, timeout=30)
    types = [s.event.type for s in stored]
    assert types[-1] == "workflow.run.completed"
    assert types.count("workflow.run.resumed") == 1
    assert types.index("workflow.run.resumed") < types.index("workflow.node.completed")
    assert [
        (s.event.data or {}).get("node") for s in stored if s.event.type == "workflow.node.completed"
    ] == ["load", "ask"]
    assert stored[-1].event.data["outputs"]["ask"]["answer"] == "6 * 7 = 42."  # nothing to search for
