"""What survives a kill -9 under a real `make run`: clients resuming with their cursor get every
event exactly once, and a workflow run in flight reaches its terminal state."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import httpx
import msgspec
import pytest

from runwire.contract.envelope import new_event
from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore
from tests.faults.resuming_clients import follow_polling, follow_sse, follow_websocket
from tests.faults.running_system import RunningSystem
from tests.faults.test_healing import restarted
from tests.support.eventually import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
BATCH = 20


def events(project: str, numbers: range) -> list[dict[str, Any]]:
    built = [
        new_event(type="faults.counted", project=project, source="/faults", data={"n": n}) for n in numbers
    ]
    return [msgspec.to_builtins(event) for event in built]


async def publish_over_http(system: RunningSystem, project: str, numbers: range) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{system.url('stream-api')}/v1/projects/{project}/events",
            json=events(project, numbers),
            headers={"Authorization": f"Bearer {system.token()}"},
        )
    assert response.status_code == 202, response.text
    return [accepted["cursor"] for accepted in response.json()["events"]]


async def publish_to_nats(system: RunningSystem, project: str, numbers: range) -> list[str]:
    """Publish straight to NATS, as a producer does while the stream API is down."""
    nc = await connect_nats([system.nats_url()], "fault-tests")
    try:
        built = [
            new_event(type="faults.counted", project=project, source="/faults", data={"n": n})
            for n in numbers
        ]
        results = await EventStore(nc).publish_many(built)
    finally:
        await nc.close()
    return [str(result.last_seq) for result in results]


async def test_sse_websocket_and_polling_clients_resuming_across_a_stream_api_kill_9_get_each_event_once(
    system: RunningSystem,
) -> None:
    project = f"faults-{uuid.uuid4().hex[:8]}"
    token = system.token()
    base = system.url("stream-api")
    received: dict[str, list[str]] = {"sse": [], "websocket": [], "polling": []}
    followers = {"sse": follow_sse, "websocket": follow_websocket, "polling": follow_polling}
    before = await publish_over_http(system, project, range(BATCH))
    tasks = [
        asyncio.create_task(follow(base, project, token, received[name], 3 * BATCH))
        for name, follow in followers.items()
    ]
    try:

        async def caught_up() -> bool | None:
            return True if all(len(ids) >= BATCH for ids in received.values()) else None

        await eventually(caught_up, timeout=10)
        pid = system.pids()["stream-api"]
        os.kill(pid, signal.SIGKILL)
        during = await publish_to_nats(system, project, range(BATCH, 2 * BATCH))
        await restarted(system, "stream-api", pid, timeout=10)
        after = await publish_over_http(system, project, range(2 * BATCH, 3 * BATCH))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
    finally:
        for task in tasks:
            task.cancel()
    expected = before + during + after
    assert received == {"sse": expected, "websocket": expected, "polling": expected}


WAITING_WORKFLOW = {
    "name": "survives-a-restart",
    "nodes": [
        {"id": "settle", "kind": "delay", "seconds": 3},
        {"id": "review", "kind": "gate", "timeout_seconds": 1, "on_timeout": "approve", "needs": ["settle"]},
    ],
}


def workflow_client(system: RunningSystem) -> httpx.AsyncClient:
    """An HTTP client for the running workflow service, with a token for every project."""
    headers = {"Authorization": f"Bearer {system.token()}"}
    return httpx.AsyncClient(base_url=system.url("workflow"), timeout=10, headers=headers)


async def start_run(http: httpx.AsyncClient, definition: dict[str, Any]) -> tuple[str, str]:
    """Create a run of `definition` in a fresh project: its runs URL and its id."""
    runs = f"/v1/projects/faults-{uuid.uuid4().hex[:8]}/workflow/runs"
    response = await http.post(runs, json=definition)
    assert response.status_code == 201, response.text
    return runs, str(response.json()["id"])


async def test_a_workflow_run_in_flight_completes_across_a_kill_9_of_the_workflow_service(
    system: RunningSystem,
) -> None:
    async with workflow_client(system) as http:
        runs, run = await start_run(http, WAITING_WORKFLOW)
        pid = system.pids()["workflow"]
        os.kill(pid, signal.SIGKILL)
        await restarted(system, "workflow", pid, timeout=10)

        async def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = (await http.get(f"{runs}/{run}")).json()
            return body if body["status"] in ("completed", "failed", "cancelled") else None

        final = await eventually(finished, timeout=30)
    assert final["status"] == "completed"
    assert [node["status"] for node in final["nodes"]] == ["completed", "completed"]


WORKFLOW_ACROSS_SERVICES = {
    "name": "survives-a-nats-restart",
    "nodes": [
        {"id": "load", "kind": "ingest", "document": "Foxes eat rodents, birds and fruit.", "chunk_size": 80},
        {"id": "settle", "kind": "delay", "seconds": 2, "needs": ["load"]},
        {"id": "summarise", "kind": "agent", "prompt": "What do foxes eat?", "needs": ["settle"]},
    ],
}


async def test_a_workflow_run_across_services_completes_across_a_kill_9_of_nats_server(
    system: RunningSystem,
) -> None:
    """After NATS comes back, the services' commands and stream followers work again on their own."""
    async with workflow_client(system) as http:
        runs, run = await start_run(http, WORKFLOW_ACROSS_SERVICES)

        async def load_completed() -> bool | None:
            nodes = (await http.get(f"{runs}/{run}")).json()["nodes"]
            return True if nodes[0]["status"] == "completed" else None

        await eventually(load_completed, timeout=20)
        pid = system.pids()["nats-server"]
        os.kill(pid, signal.SIGKILL)

        async def finished() -> dict[str, Any] | None:
            try:
                body: dict[str, Any] = (await http.get(f"{runs}/{run}")).json()
            except (httpx.HTTPError, ValueError):
                return None
            return body if body.get("status") in ("completed", "failed", "cancelled") else None

        final = await eventually(finished, timeout=30)
    assert final["status"] == "completed"
    assert [node["status"] for node in final["nodes"]] == ["completed", "completed", "completed"]
