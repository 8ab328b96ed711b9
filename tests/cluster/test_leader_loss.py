"""The stream API on a 3-node cluster while the EVENTS leader is killed (-9) and comes back.

A producer publishes with acks, retrying each event with the same identity until it is acked, as a
producer following the contract does; an SSE client streams live. Every acked event reaches the
client once, in stream order. The stall figures are printed (`-s`) for docs/operations.md.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import msgspec

from runwire.contract.envelope import new_event
from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, StoreError, StreamSettings
from runwire.ops.settings import Settings
from runwire.web.auth import issue_token
from runwire_stream_api.app import create_app
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.support.nats_cluster import NatsCluster
from tests.support.stream_clients import events_of, sse

SECRET = "cluster-test-secret-0123456789abcdef"
RATE = 50  # events a second: paced, so that a stall shows as a gap
SECONDS = 8


async def publish_until_acked(store: EventStore, event: object) -> tuple[int, float]:
    """Publish until acked (same identity, so a retry after a lost ack is a duplicate, not a copy)."""
    started = time.monotonic()
    while True:
        try:
            [result] = await store.publish_many([event])  # type: ignore[list-item]
            return result.last_seq, time.monotonic() - started
        except (StoreError, TimeoutError):
            await asyncio.sleep(0.1)


async def test_every_acked_event_streams_once_across_a_leader_kill(cluster: NatsCluster) -> None:
    await cluster.ready()
    project = f"p-{uuid.uuid4().hex[:8]}"
    producer_nc = await connect_nats(cluster.urls, "producer")
    store = EventStore(producer_nc)
    await store.ensure_stream(StreamSettings(replicas=3))
    settings = Settings(nats_url=cluster.url, auth_secret=SECRET, stream_replicas=3, heartbeat_seconds=1)
    acked: list[int] = []
    stalls: list[float] = []
    try:
        async with (
            serving(create_app(settings)) as base,
            sse(base, project, issue_token(SECRET, "t", [project])) as reader,
        ):
            await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))

            async def produce() -> None:
                for n in range(RATE * SECONDS):
                    event = new_event(
                        type="test.tick", project=project, source="/producer", subject="a", data={"n": n}
                    )
                    seq, took = await publish_until_acked(store, event)
                    acked.append(seq)
                    stalls.append(took)
                    await asyncio.sleep(1 / RATE)

            arrivals: list[float] = []

            async def watch() -> None:
                while True:
                    seen = len(events_of(reader.messages))
                    await reader.read_until(lambda ms, seen=seen: len(events_of(ms)) > seen, timeout=120)
                    arrivals.extend([time.monotonic()] * (len(events_of(reader.messages)) - seen))

            watching = asyncio.create_task(watch())
            producing = asyncio.create_task(produce())
            await asyncio.sleep(SECONDS / 3)  # pacing: the kill falls in the middle of the run
            leader = await cluster.stream_leader("EVENTS")
            cluster.kill(leader)
            await asyncio.sleep(2)  # pacing: the node stays down for 2 s, as a crash and restart would
            cluster.start(leader)
            await asyncio.wait_for(producing, 120)

            async def all_arrived() -> bool | None:
                return True if len(arrivals) >= len(acked) else None

            await eventually(all_arrived, timeout=60)
            watching.cancel()
            received = events_of(reader.messages)
    finally:
        await producer_nc.close()
    cursors = [int(m.id or 0) for m in received]
    gap = max(b - a for a, b in itertools.pairwise(arrivals))
    assert sorted(set(cursors)) == cursors, "out of order or twice"
    assert cursors == sorted(set(acked)), "every acked event exactly once"
    assert [msgspec.json.decode(m.data)["data"]["n"] for m in received] == list(range(RATE * SECONDS))
    print(
        f"\nleader kill: max publish stall {max(stalls):.2f} s, "
        f"max stream gap {gap:.2f} s, {len(acked)} events"
    )
