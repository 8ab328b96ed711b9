"""The join of stream reads and live fan-out, driven step by step against a real nats-server.

The hub is not started here: the test hands it stored messages itself, so it can lag behind the
store exactly where the races of production would put it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.contract.filters import make_filter
from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore, StreamSettings
from runwire.jetstream.stream_reader import StoredMessage, StreamReader
from runwire.ops.telemetry import disabled
from runwire_stream_api.client_stream import CLOSE, IDLE, ClientStream, Item, Phase, Reset
from runwire_stream_api.fanout import Hub
from runwire_stream_api.frames import Frame
from runwire_stream_api.latency import LatencyRecorder
from runwire_stream_api.metrics import StreamMetrics


def hub_for(nc: NATS, store: EventStore) -> Hub:
    """A hub that is never started: the test dispatches to it by hand."""
    return Hub(store, StreamMetrics(), LatencyRecorder(disabled()), disabled())


async def publish(store: EventStore, project: str, types: list[str]) -> list[int]:
    events = [new_event(type=t, project=project, source="/t", subject="a") for t in types]
    return [r.last_seq for r in await store.publish_many(events)]


async def stored(nc: NATS, project: str, after: int) -> list[StoredMessage]:
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=after + 1)
    out: list[StoredMessage] = []
    async with contextlib.aclosing(reader.batches()) as batches:
        async for batch in batches:
            out.extend(batch)
    return out


async def take_until_idle(items: AsyncGenerator[Item, None]) -> list[int]:
    """Sequences handed over until the client is live and has nothing queued."""
    seqs: list[int] = []
    async for item in items:
        if item is IDLE:
            return seqs
        if isinstance(item, list):
            seqs.extend(frames.seq for frames in item if isinstance(frames, Frame))
    return seqs


async def test_catch_up_past_a_lagging_fanout_hands_each_event_over_once(
    nc: NATS, store: EventStore, project: str
) -> None:
    seqs = await publish(store, project, ["keep"] * 4 + ["skip"] + ["keep"] * 5)
    hub = hub_for(nc, store)
    hub.position = seqs[4]  # the fan-out has dispatched up to the skipped event only
    client = ClientStream(
        hub, store, make_filter(project, ["keep"]), after=seqs[0] - 1, queue_limit=100, transport="sse"
    )
    items = client.items(idle=True)
    first = await take_until_idle(items)
    hub._dispatch(await stored(nc, project, seqs[4]))  # now the fan-out catches up
    second = await take_until_idle(items)
    await items.aclose()
    keep = seqs[:4] + seqs[5:]
    assert first + second == keep


async def test_a_full_queue_detaches_and_catches_up_without_loss(
    nc: NATS, store: EventStore, project: str
) -> None:
    hub = hub_for(nc, store)
    hub.position = (await store.bounds()).last_seq
    client = ClientStream(
        hub, store, make_filter(project), after=hub.position, queue_limit=3, transport="sse"
    )
    items = client.items(idle=True)
    assert await take_until_idle(items) == []
    assert len(hub.index) == 1
    seqs = await publish(store, project, ["n"] * 10)
    hub._dispatch(await stored(nc, project, seqs[0] - 1))
    assert len(hub.index) == 0  # overflowed: left the fan-out instead of growing its queue
    assert client.queued == 3
    got = await take_until_idle(items)
    assert len(hub.index) == 1  # rejoined
    await items.aclose()
    assert got == seqs


async def test_a_cursor_behind_retention_yields_reset_then_the_rest(project: str, tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path) as server:
        own = await nats.connect(server.url)
        try:
            store = EventStore(own)
            await store.ensure_stream(StreamSettings(max_msgs=3))
            seqs = await publish(store, project, ["n"] * 8)
            hub = hub_for(own, store)
            hub.position = seqs[-1]
            client = ClientStream(
                hub, store, make_filter(project), after=seqs[1], queue_limit=10, transport="sse"
            )
            items = client.items(idle=True)
            handed: list[object] = []
            async for item in items:
                if item is IDLE:
                    break
                if isinstance(item, Reset):
                    handed.append(item)
                elif isinstance(item, list):
                    handed.append([f.seq for f in item])
            await items.aclose()
        finally:
            await own.close()
    assert handed == [Reset(earliest=seqs[5], requested=seqs[1]), seqs[5:]]


def phase(client: ClientStream) -> Phase:
    """Read afresh each time (the client's own task moves it on between assertions)."""
    return client.phase


async def test_phases_from_behind_to_live_and_back_on_overflow(
    nc: NATS, store: EventStore, project: str
) -> None:
    hub = hub_for(nc, store)
    hub.position = (await store.bounds()).last_seq
    client = ClientStream(
        hub, store, make_filter(project), after=hub.position, queue_limit=2, transport="sse"
    )
    assert phase(client) is Phase.BEHIND
    items = client.items(idle=True)
    assert await take_until_idle(items) == []
    assert phase(client) is Phase.LIVE and not client.catching_up
    seqs = await publish(store, project, ["n"] * 5)
    hub._dispatch(await stored(nc, project, seqs[0] - 1))
    assert phase(client) is Phase.BEHIND  # overflowed: the two queued go out first, then a catch-up
    assert await take_until_idle(items) == seqs
    assert phase(client) is Phase.LIVE
    client.shutdown()
    assert [item async for item in items] == [CLOSE]
    assert phase(client) is Phase.CLOSED
    assert len(hub.index) == 0


async def test_a_limit_ends_the_items_with_the_position_at_the_last_event_handed_over(
    nc: NATS, store: EventStore, project: str
) -> None:
    seqs = await publish(store, project, ["n"] * 10)
    hub = hub_for(nc, store)
    hub.position = seqs[-1]
    client = ClientStream(
        hub, store, make_filter(project), after=seqs[0] - 1, queue_limit=100, transport="poll"
    )
    handed: list[int] = []
    async with contextlib.aclosing(client.items(idle=True, limit=4)) as items:
        async for item in items:
            assert isinstance(item, list)
            handed.extend(frame.seq for frame in item)
    assert handed == seqs[:4]
    assert client.position == seqs[3]


async def test_a_closed_client_ends_without_a_close_item(nc: NATS, store: EventStore, project: str) -> None:
    hub = hub_for(nc, store)
    hub.position = (await store.bounds()).last_seq
    client = ClientStream(hub, store, make_filter(project), after=hub.position, queue_limit=2, transport="ws")
    items = client.items(idle=True)
    assert await take_until_idle(items) == []
    client.close()
    client.shutdown()  # a close wins over a later shutdown
    assert [item async for item in items] == []
    assert phase(client) is Phase.CLOSED
    assert len(hub.index) == 0
