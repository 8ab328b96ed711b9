"""A live tail whose consumer's node dies (kill -9) while its own connection survives on another node.

The reader must notice the silence, recreate its consumer after the last sequence it handed out, and
yield the events published after the kill within 3 s of it: none lost, none twice. The killed node
holds neither the stream's nor the meta group's leadership (those elections take 4-9 s on their own:
benchmarks/failover.py measures them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.jetstream.connection import RunwireNATS, connect_nats
from runwire.jetstream.event_store import EventStore, StreamSettings
from runwire.jetstream.stream_reader import StoredMessage, StreamReader
from runwire.ops.settings import Settings
from runwire.web.auth import issue_token
from runwire_stream_api.app import create_app
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.support.nats_cluster import NatsCluster, Node
from tests.support.stream_clients import events_of, sse

FAILOVER_SECONDS = 3.0


async def roles(cluster: NatsCluster) -> tuple[Node, Node]:
    """(A, B): A for the client's connection, B to hold its consumer; B leads nothing, A is not B."""
    leader = await cluster.stream_leader("EVENTS")
    meta = await cluster.meta_leader()
    node_b = next(node for node in cluster.nodes if node is not leader and node is not meta)
    node_a = next(node for node in cluster.nodes if node is not leader and node is not node_b)
    return node_a, node_b


async def tail_on(
    cluster: NatsCluster, nc: RunwireNATS, node: Node, project: str
) -> tuple[StreamReader, AsyncGenerator[list[StoredMessage], None], list[StoredMessage]]:
    """A following reader of `project` whose consumer the cluster placed on `node` (placement is the
    meta leader's random pick among the stream's peers: reopen until it lands there)."""
    for _ in range(40):
        reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, follow=True)
        batches = reader.batches()
        first = await anext(batches)
        assert reader.consumer_name is not None
        if await cluster.consumer_node(nc, "EVENTS", reader.consumer_name) is node:
            return reader, batches, first
        await batches.aclose()
    raise AssertionError(f"no consumer placed on {node.name} in 40 tries")


async def test_the_tail_resumes_within_3_s_of_losing_its_consumers_node(cluster: NatsCluster) -> None:
    await cluster.ready()
    setup = await connect_nats(cluster.urls, "setup")
    try:
        await EventStore(setup).ensure_stream(StreamSettings(replicas=3))
    finally:
        await setup.close()
    await cluster.settled("EVENTS")
    node_a, node_b = await roles(cluster)
    nc = await connect_nats([node_a.url], "tail")
    store = EventStore(nc)
    project = f"p-{uuid.uuid4().hex[:8]}"
    event = new_event(type="t.tick", project=project, source="/t", subject="a")
    [before] = await store.publish_many([event])
    got: list[tuple[int, float]] = []
    try:
        _, batches, first = await tail_on(cluster, nc, node_b, project)
        assert [m.seq for m in first] == [before.last_seq]

        async def consume() -> None:
            async for batch in batches:
                got.extend((m.seq, time.monotonic()) for m in batch)

        consuming = asyncio.create_task(consume())
        killed_at = time.monotonic()
        cluster.kill(node_b)
        published = []
        for n in range(5):  # published after the kill, through node A (which the stream still reaches)
            event = new_event(type="t.tick", project=project, source="/t", subject="a", data={"n": n})
            [result] = await store.publish_many([event])
            published.append(result.last_seq)
        await eventually(
            lambda: len(got) >= len(published), timeout=10, failure=lambda: f"got {got}, want {published}"
        )
        arrived = got[0][1] - killed_at
        assert [seq for seq, _ in got] == published, "every event published after the kill, once, in order"
        assert arrived < FAILOVER_SECONDS, f"first event {arrived:.2f} s after the kill"
        print(f"\nconsumer's node killed: events again after {arrived:.2f} s")
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
        await batches.aclose()
    finally:
        await nc.close()
        cluster.start(node_b)


SECRET = "cluster-test-secret-0123456789abcdef"


async def live_tail_node(cluster: NatsCluster, nc: RunwireNATS) -> tuple[str, Node] | None:
    """The stream API's live tail (the one consumer on every subject): its name and node."""
    for info in await nc.jetstream().consumers_info("EVENTS"):
        if info.config.filter_subject == subjects.STREAM_SUBJECTS and info.cluster and info.cluster.leader:
            return info.name, cluster.node(info.cluster.leader)
    return None


async def test_sse_clients_get_events_within_3_s_of_losing_the_live_tails_node(
    cluster: NatsCluster,
) -> None:
    await cluster.settled("EVENTS")
    node_a, node_b = await roles(cluster)
    nc = await connect_nats([node_a.url], "producer")
    store = EventStore(nc)
    await store.ensure_stream(StreamSettings(replicas=3))
    project = f"p-{uuid.uuid4().hex[:8]}"
    settings = Settings(nats_url=node_a.url, auth_secret=SECRET, stream_replicas=3, heartbeat_seconds=1)
    try:
        async with (
            serving(create_app(settings)) as base,
            sse(base, project, issue_token(SECRET, "t", [project])) as reader,
        ):
            await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))

            async def tail_on_b() -> bool:
                """Move the instance's live tail until the cluster places it on B (a deleted consumer
                is recreated by the reader within a second)."""
                found = await live_tail_node(cluster, nc)
                if found is None:
                    return False
                name, node = found
                if node is node_b:
                    return True
                await nc.jetstream().delete_consumer("EVENTS", name)
                return False

            await eventually(tail_on_b, timeout=20)
            first = new_event(type="t.tick", project=project, source="/t", subject="a", data={"n": -1})
            [before] = await store.publish_many([first])
            await reader.read_until(lambda ms: len(events_of(ms)) >= 1)
            killed_at = time.monotonic()
            cluster.kill(node_b)
            published = [before.last_seq]
            for n in range(5):
                event = new_event(type="t.tick", project=project, source="/t", subject="a", data={"n": n})
                [result] = await store.publish_many([event])
                published.append(result.last_seq)
            await reader.read_until(lambda ms: len(events_of(ms)) >= 2, timeout=10)
            arrived = time.monotonic() - killed_at
            await reader.read_until(lambda ms: len(events_of(ms)) >= len(published), timeout=10)
            cursors = [int(m.id or 0) for m in events_of(reader.messages)]
        assert cursors == published, "every event once, in order"
        assert arrived < FAILOVER_SECONDS, f"SSE events again {arrived:.2f} s after the kill"
        print(f"\nlive tail's node killed: SSE events again after {arrived:.2f} s")
    finally:
        await nc.close()
        cluster.start(node_b)
