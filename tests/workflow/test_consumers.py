"""What one gate approval costs JetStream: the consumers it creates, counted on the server's API subjects.

Every stream read is a consumer; a command decided against the state the service already holds
needs none (DESIGN.md "Event sourcing in the domain services": the expected-sequence check, not a
re-read, catches a stale state).
"""

from __future__ import annotations

import asyncio

import httpx
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from runwire.jetstream.event_store import STREAM_NAME, EventStore
from tests.integration.domain_services import wait_for_type

CREATES = (f"$JS.API.CONSUMER.CREATE.{STREAM_NAME}", f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM_NAME}.")


async def test_one_gate_approval_creates_at_most_one_consumer(
    client: httpx.AsyncClient, nc: NATS, store: EventStore, project: str
) -> None:
    response = await client.post(
        "/runs",
        json={
            "nodes": [
                {"id": "ok", "kind": "gate"},
                {"id": "after", "kind": "delay", "seconds": 0, "needs": ["ok"]},
            ]
        },
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    await wait_for_type(store, project, run_id, "workflow.gate.paused")

    created: list[str] = []
    completed = asyncio.Event()

    async def on_api(msg: Msg) -> None:
        if msg.subject.startswith(CREATES):
            created.append(msg.subject)

    async def on_completed(_msg: Msg) -> None:
        completed.set()

    api = await nc.subscribe("$JS.API.CONSUMER.>", cb=on_api)
    done = await nc.subscribe(f"events.{project}.{run_id}.workflow.run.completed", cb=on_completed)
    await nc.flush()
    try:
        approved = await client.post(f"/runs/{run_id}/gates/ok/approve", json={"comment": "yes"})
        assert approved.status_code == 200, approved.text
        await asyncio.wait_for(completed.wait(), 15)  # the approval's last consequence
        await nc.flush()
    finally:
        await api.unsubscribe()
        await done.unsubscribe()
    print(f"consumers created by one gate approval: {len(created)}")
    assert len(created) <= 1, created
