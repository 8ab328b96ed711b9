"""Contract of the JetStream adapter against a real nats-server: append, bounds, read, follow and
key-value, each over every delivery path (raw wire bytes parsed by RawParser, raw wire bytes from
nats-py's parser, and nats-py's public subscriptions)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from runwire.contract import subjects
from runwire.contract.chunks import Chunk
from runwire.contract.envelope import new_event
from runwire.contract.filters import EventFilter, make_filter
from runwire.jetstream.chunk_store import ChunkStore
from runwire.jetstream.connection import RAW_DELIVERY, RunwireNATS, connect_nats
from runwire.jetstream.event_store import EventStore, StreamSettings
from runwire.jetstream.stream_reader import StoredMessage
from tests.support.eventually import eventually


@pytest.fixture(params=["raw-fast", "raw", "public"])
async def adapter(request: pytest.FixtureRequest, nats_url: str) -> AsyncIterator[EventStore]:
    """An event store on a connection of each delivery path."""
    nc = await connect_nats(
        [nats_url],
        f"adapter-{request.param}",
        raw_delivery=request.param != "public",
        fast_parser=request.param == "raw-fast",
    )
    assert (nc.raw_delivery, nc.fast_parser) == (request.param != "public", request.param == "raw-fast")
    try:
        store = EventStore(nc)
        await store.ensure_stream(StreamSettings(dedup_window_seconds=120))
        yield store
    finally:
        await nc.close()


def connection(store: EventStore) -> RunwireNATS:
    assert isinstance(store.nc, RunwireNATS)
    return store.nc


async def append(store: EventStore, project: str, types: list[str], aggregate: str = "a") -> list[int]:
    events = [new_event(type=t, project=project, source="/t", subject=aggregate) for t in types]
    return [r.last_seq for r in await store.publish_many(events)]


async def read(
    store: EventStore,
    event_filter: EventFilter,
    *,
    after: int | None = None,
    since: datetime | None = None,
    up_to: int | None = None,
    keep: Callable[[StoredMessage], bool] | None = None,
) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    batches = store.read_batches(event_filter, after=after, since=since, up_to=up_to, keep=keep)
    async with contextlib.aclosing(batches):
        async for batch in batches:
            assert batch, "batches are never empty"
            out.extend(batch)
    return out


def test_the_pinned_nats_py_has_the_hook_of_the_raw_path() -> None:
    """If this fails, nats-py changed the hook: readers fall back to public subscriptions (slower
    replay; re-measure benchmarks/fanout.py before widening the pin)."""
    assert RAW_DELIVERY


async def test_append_then_bounds_cover_the_new_events(adapter: EventStore, project: str) -> None:
    before = await adapter.bounds()
    seqs = await append(adapter, project, ["a.b"] * 3)
    after = await adapter.bounds()
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert seqs[0] > before.last_seq
    assert after.last_seq >= seqs[-1]
    assert after.first_seq <= seqs[0]


async def test_read_is_the_window_after_to_up_to_in_order(adapter: EventStore, project: str) -> None:
    seqs = await append(adapter, project, ["a.b"] * 10)
    got = await read(adapter, make_filter(project), after=seqs[2], up_to=seqs[7])
    assert [m.seq for m in got] == seqs[3:8]
    assert {m.subject for m in got} == {f"events.{project}.a.a.b"}
    assert all(m.stored_ns > 0 for m in got)


async def test_read_matches_overlapping_patterns_locally_after_keep(
    adapter: EventStore, project: str
) -> None:
    seqs = await append(adapter, project, ["a.b.c", "a.x.c", "a.b.x", "z.b.c", "a.b.c"])
    event_filter = make_filter(project, ["a.*.c", "a.b.*"])
    assert not event_filter.subjects_are_exact  # the server reads wider; the adapter narrows
    asked: list[int] = []

    def keep(message: StoredMessage) -> bool:
        asked.append(message.seq)
        return message.seq != seqs[4]

    got = await read(adapter, event_filter, after=seqs[0] - 1, keep=keep)
    assert [m.seq for m in got] == seqs[:3]
    assert asked == seqs  # every message read is asked before the filter is applied


async def test_read_from_a_time_starts_at_the_first_event_stored_then(
    adapter: EventStore, project: str
) -> None:
    await append(adapter, project, ["old"])
    since = datetime.now(UTC)  # after the ack of "old", so after its store time (one clock)
    seqs = await append(adapter, project, ["new"] * 2)
    got = await read(adapter, make_filter(project), since=since)
    assert [m.seq for m in got] == seqs


async def test_a_read_past_many_flow_control_windows_with_a_small_buffer_completes_in_order(
    adapter: EventStore, project: str
) -> None:
    """About 8 MiB through a 16-message buffer: flow-control answers wait for the reader to drain."""
    pad = "x" * 2000
    events = [
        new_event(type="a.b", project=project, source="/t", subject="a", data={"pad": pad})
        for _ in range(4000)
    ]
    seqs: list[int] = []
    for start in range(0, len(events), 500):
        seqs += [r.last_seq for r in await adapter.publish_many(events[start : start + 500])]
    got: list[int] = []
    batches = adapter.read_batches(
        make_filter(project), after=seqs[0] - 1, max_buffered=16, with_headers=False
    )
    async with contextlib.aclosing(batches):
        async for batch in batches:
            got.extend(m.seq for m in batch)
    assert got == seqs


async def test_select_is_asked_with_each_batch_before_keep_and_matches(
    adapter: EventStore, project: str
) -> None:
    seqs = await append(adapter, project, ["a.b"] * 6)
    selected: list[list[int]] = []

    def select(batch: list[StoredMessage]) -> list[StoredMessage]:
        selected.append([m.seq for m in batch])
        return [m for m in batch if m.seq % 2 == 0]

    got: list[int] = []
    batches = adapter.read_batches(make_filter(project), after=seqs[0] - 1, up_to=seqs[4], select=select)
    async with contextlib.aclosing(batches):
        async for batch in batches:
            assert batch, "batches are never empty"
            got.extend(m.seq for m in batch)
    assert [seq for batch in selected for seq in batch] == seqs[:5]  # never past up_to
    assert got == [seq for seq in seqs[:5] if seq % 2 == 0]


async def test_iter_messages_is_the_same_read_one_at_a_time(adapter: EventStore, project: str) -> None:
    seqs = await append(adapter, project, ["a.b", "c.d", "a.b"])
    got = [m.seq async for m in adapter.iter_messages(make_filter(project, ["a.b"]), up_to=seqs[1])]
    assert got == seqs[:1]


async def test_follow_yields_what_is_stored_after_its_start(adapter: EventStore, project: str) -> None:
    seqs = await append(adapter, project, ["a.b"] * 2)
    seen: list[int] = []

    async def follow() -> None:
        tail = adapter.follow(after=seqs[0], filter_subjects=[subjects.project_filter(project)])
        async with contextlib.aclosing(tail):
            async for batch in tail:
                seen.extend(m.seq for m in batch)

    def having(seq: int) -> Callable[[], Awaitable[bool | None]]:
        async def probe() -> bool | None:
            return True if seq in seen else None

        return probe

    task = asyncio.create_task(follow())
    try:
        await eventually(having(seqs[1]))
        later = await append(adapter, project, ["a.b"] * 3)
        await eventually(having(later[-1]))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert seen == [seqs[1], *later]


async def test_reads_use_the_delivery_path_of_their_connection(adapter: EventStore, project: str) -> None:
    nc = connection(adapter)
    await append(adapter, project, ["a.b"])
    tail = adapter.follow(after=0, max_buffered=16)
    first = await anext(tail)
    try:
        assert first
        assert nc.raw_subscriptions == (1 if nc.raw_delivery else 0)
    finally:
        await tail.aclose()
    assert nc.raw_subscriptions == 0


async def test_key_value_keeps_the_last_put_of_each_key(adapter: EventStore, project: str) -> None:
    chunks = await ChunkStore.open(adapter.nc)
    await chunks.put(project, "j1", Chunk(index=1, start=6, end=12, text="second"))
    await chunks.put(project, "j1", Chunk(index=0, start=0, end=12, text="first, draft"))
    await chunks.put(project, "j1", Chunk(index=0, start=0, end=5, text="first"))
    await chunks.put(project, "j2", Chunk(index=0, start=0, end=9, text="other job"))
    assert [c.text for c in await chunks.chunks(project, "j1")] == ["first", "second"]
    assert await chunks.chunks(project, "nobody") == []
