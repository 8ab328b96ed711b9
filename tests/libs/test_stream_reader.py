"""Ordered stream reads: complete, in order, bounded, and self-healing when the consumer vanishes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerInfo

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.jetstream.event_store import EventStore
from runwire.jetstream.raw_parser import RawRun
from runwire.jetstream.stream_reader import StoredMessage, StreamReader
from tests.support.eventually import eventually


async def fill(store: EventStore, project: str, count: int, aggregate: str = "a") -> list[int]:
    events = [new_event(type="n.e", project=project, source="/t", subject=aggregate) for _ in range(count)]
    results = []
    for start in range(0, count, 500):
        results += await store.publish_many(events[start : start + 500])
    return [r.last_seq for r in results]


async def read_all(reader: StreamReader) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    async with contextlib.aclosing(reader.batches()) as batches:
        async for batch in batches:
            out.extend(batch)
    return out


async def consumer_count(nc: NATS) -> int:
    info = await nc.jetstream().stream_info("EVENTS")
    return info.state.consumer_count


async def test_reads_everything_in_order_then_ends(nc: NATS, store: EventStore, project: str) -> None:
    seqs = await fill(store, project, 50)
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1)
    assert [m.seq for m in await read_all(reader)] == seqs


async def test_an_empty_range_ends_at_once(nc: NATS, store: EventStore, project: str) -> None:
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1)
    assert await asyncio.wait_for(read_all(reader), 5) == []


async def test_large_read_with_a_small_buffer_completes(nc: NATS, store: EventStore, project: str) -> None:
    seqs = await fill(store, project, 5000)
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, max_buffered=64)
    got = await asyncio.wait_for(read_all(reader), 30)
    assert [m.seq for m in got] == seqs


async def test_starts_after_the_given_sequence(nc: NATS, store: EventStore, project: str) -> None:
    seqs = await fill(store, project, 10)
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=seqs[6] + 1)
    assert [m.seq for m in await read_all(reader)] == seqs[7:]


async def test_up_to_ends_the_read_long_before_the_stream_does(
    nc: NATS, store: EventStore, project: str
) -> None:
    seqs = await fill(store, project, 5000)
    reader = StreamReader(
        nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, up_to=seqs[3], max_buffered=16
    )
    got = [m.seq for m in await read_all(reader)]
    assert got[:4] == seqs[:4]
    assert len(got) < len(seqs)


async def test_follow_delivers_events_appended_later(nc: NATS, store: EventStore, project: str) -> None:
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, follow=True)
    got: list[int] = []

    async def consume() -> None:
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                got.extend(m.seq for m in batch)
                if len(got) >= 6:
                    return

    task = asyncio.create_task(consume())
    first = await fill(store, project, 3)
    await eventually(lambda: got == first)  # the reader has caught up: what follows is appended later
    second = await fill(store, project, 3)
    await asyncio.wait_for(task, 5)
    assert got == first + second


async def test_closing_removes_the_server_consumer(nc: NATS, store: EventStore, project: str) -> None:
    await fill(store, project, 5)
    before = await consumer_count(nc)
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, follow=True)
    batches = reader.batches()
    await anext(batches)
    assert await consumer_count(nc) == before + 1
    await batches.aclose()

    async def removed() -> bool:
        return await consumer_count(nc) == before

    await eventually(removed, timeout=1)


async def test_recovers_when_its_consumer_is_deleted(nc: NATS, store: EventStore, project: str) -> None:
    reader = StreamReader(
        nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, follow=True, heartbeat_seconds=0.2
    )
    got: list[int] = []
    first = await fill(store, project, 3)

    async def consume() -> None:
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                got.extend(m.seq for m in batch)
                if len(got) >= 6:
                    return

    task = asyncio.create_task(consume())
    await eventually(lambda: len(got) >= 3)
    mine = subjects.project_filter(project)
    names = [c.name async for c in _consumers(nc) if c.config.filter_subject == mine]
    assert names
    for name in names:
        await nc.jetstream().delete_consumer("EVENTS", name)
    second = await fill(store, project, 3)
    await asyncio.wait_for(task, 10)
    assert got == first + second


async def _consumers(nc: NATS) -> AsyncIterator[ConsumerInfo]:
    for info in await nc.jetstream().consumers_info("EVENTS"):
        yield info


async def test_a_plain_nats_py_client_reads_the_same(nats_url: str, store: EventStore, project: str) -> None:
    seqs = await fill(store, project, 300)
    plain = await nats.connect(nats_url)
    try:
        reader = StreamReader(
            plain, "EVENTS", [subjects.project_filter(project)], start_seq=1, max_buffered=16
        )
        got = await read_all(reader)
    finally:
        await plain.close()
    assert [m.seq for m in got] == seqs
    assert got[0].headers is not None
    assert got[0].headers.get("Nats-Msg-Id")


async def test_headers_of_stored_messages_are_readable(nc: NATS, store: EventStore, project: str) -> None:
    [seq] = await fill(store, project, 1)
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=seq)
    [message] = await read_all(reader)
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"]


async def test_a_lost_consumer_is_replaced_within_seconds_by_default(
    nc: NATS, store: EventStore, project: str
) -> None:
    """With the default idle heartbeat, a consumer gone silent (as when its node dies) is noticed and
    recreated after the last sequence handed out: the next events arrive within 3 s, once each."""
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], start_seq=1, follow=True)
    got: list[int] = []
    first = await fill(store, project, 3)

    async def consume() -> None:
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                got.extend(m.seq for m in batch)

    task = asyncio.create_task(consume())
    try:
        await eventually(lambda: got == first)
        assert reader.consumer_name is not None
        await nc.jetstream().delete_consumer("EVENTS", reader.consumer_name)
        second = await fill(store, project, 3)
        await eventually(lambda: got == first + second, timeout=3, failure=lambda: f"got {got}")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_last_per_subject_reads_the_last_message_of_each_subject_then_ends(
    nc: NATS, store: EventStore, project: str
) -> None:
    a = await fill(store, project, 3, aggregate="a")
    b = await fill(store, project, 2, aggregate="b")
    c = await fill(store, project, 4, aggregate="c")
    reader = StreamReader(nc, "EVENTS", [subjects.project_filter(project)], last_per_subject=True)
    assert [m.seq for m in await asyncio.wait_for(read_all(reader), 10)] == [a[-1], b[-1], c[-1]]
    several = StreamReader(
        nc, "EVENTS", [f"events.{project}.a.>", f"events.{project}.c.>"], last_per_subject=True
    )
    assert [m.seq for m in await asyncio.wait_for(read_all(several), 10)] == [a[-1], c[-1]]


def ack(seq: int, dseq: int, pending: int, domain: bool = False) -> bytes:
    head = b"$JS.ACK.hub.acchash.EVENTS.c" if domain else b"$JS.ACK.EVENTS.c"
    return b"%s.1.%d.%d.1763809362123456789.%d" % (head, seq, dseq, pending)


HEARTBEAT = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 9\r\n\r\n"


def run_of(messages: list[tuple[bytes, bytes, bytes | None]]) -> RawRun:
    return RawRun.of([(b"events.p.a.t", reply, data, headers) for reply, data, headers in messages])


RUNS: dict[str, list[tuple[bytes, bytes, bytes | None]]] = {
    "in order": [(ack(5, 1, 2), b"{1}", None), (ack(7, 2, 1), b"{2}", None), (ack(9, 3, 0), b"{3}", None)],
    "a gap": [(ack(5, 1, 2), b"{1}", None), (ack(9, 3, 0), b"{3}", None), (ack(11, 4, 0), b"{4}", None)],
    "a repeat": [(ack(5, 1, 2), b"{1}", None), (ack(5, 2, 1), b"{1}", None), (ack(9, 3, 0), b"{3}", None)],
    "a heartbeat": [(ack(5, 1, 2), b"{1}", None), (b"", b"", HEARTBEAT), (ack(9, 2, 0), b"{3}", None)],
    "a domain": [(ack(5, 1, 1, True), b"{1}", None), (ack(9, 2, 0, True), b"{3}", None)],
    "an empty message": [(ack(5, 1, 1), b"", None), (ack(9, 2, 0), b"{3}", None)],
    "pending": [(ack(5, 1, 9), b"{1}", None), (ack(9, 2, 8), b"{3}", None)],
    "none pending, then newer": [(ack(5, 1, 0), b"{1}", None), (ack(9, 2, 1), b"{3}", None)],
    "a stray message": [
        (ack(5, 1, 1), b"{1}", None),
        (b"reply.to", b"{x}", None),
        (ack(9, 2, 0), b"{3}", None),
    ],
}


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("up_to", [None, 7])
async def test_a_run_is_read_as_a_message_at_a_time_reads_it(nc: NATS, name: str, up_to: int | None) -> None:
    """The run handler's column-at-a-time path and its message-at-a-time reference agree."""
    states = []
    for whole in (True, False):
        reader = StreamReader(nc, "EVENTS", ["events.>"], up_to=up_to, with_headers=False)
        reader._loop = asyncio.get_running_loop()
        first = run_of([(ack(1, 1, 3), b"{0}", None)])  # tells the ack form, as every consumer's first
        first_domain = run_of([(ack(1, 1, 3, True), b"{0}", None)])
        reader._on_raw_each(first_domain if name == "a domain" else first)
        reader._expected_dseq = 1
        run = run_of(RUNS[name])
        answers = reader._on_raw(run) if whole else reader._on_raw_each(run)
        states.append(
            (
                answers,
                reader._buffer,
                reader._expected_dseq,
                reader._last_seq,
                reader._needs_reset,
                reader._caught_up,
            )
        )
    assert states[0] == states[1]
