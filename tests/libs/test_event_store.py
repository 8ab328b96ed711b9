"""The event store against a real nats-server: dedup, optimistic concurrency, ordered reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client as NATS

from runwire.contract.envelope import CloudEvent, encode_event, new_event
from runwire.contract.filters import EventFilter, make_filter
from runwire.contract.stored_check import stored_event
from runwire.jetstream.event_store import AppendResult, ConcurrencyError, EventStore, dedup_id
from tests.support.clock import instant_after


async def read(
    store: EventStore, event_filter: EventFilter, *, after: int | None = None, since: datetime | None = None
) -> list[CloudEvent]:
    """The CloudEvents a filtered read yields, from a cursor or a time, up to the current end."""
    return [
        event
        async for message in store.iter_messages(event_filter, after=after, since=since)
        if (event := stored_event(message)) is not None
    ]


def ev(
    project: str, aggregate: str, type_: str = "test.happened", *, id: str | None = None, data: Any = None
) -> CloudEvent:
    return new_event(type=type_, project=project, source="/test", subject=aggregate, id=id, data=data)


async def test_append_returns_the_stored_sequence(store: EventStore, project: str) -> None:
    before = (await store.bounds()).last_seq
    result = await store.append([ev(project, "a1")])
    assert result == AppendResult([before + 1])


async def test_repeated_id_is_stored_once(store: EventStore, project: str) -> None:
    event = ev(project, "a1")
    first = await store.append([event])
    again = await store.append([event])
    assert again == AppendResult(first.seqs, duplicate=True)
    assert [s.event.id for s in await store.read_aggregate(project, "a1")] == [event.id]


def test_dedup_id_is_project_source_and_id_separated_by_single_spaces() -> None:
    event = new_event(type="x.y", project="p1", source="https://example.com/orders", id="order-1")
    assert dedup_id(event) == "p1 https://example.com/orders order-1"


def test_the_asyncapi_document_shows_the_header_the_store_sets() -> None:
    import yaml

    from runwire.contract.schemas import SCHEMA_DIR

    document = yaml.safe_load((SCHEMA_DIR / "asyncapi.yaml").read_text())
    header = document["components"]["messages"]["cloudEvent"]["headers"]["properties"]["Nats-Msg-Id"]
    [example] = header["examples"]
    project, source, id_ = example.split(" ")
    assert dedup_id(new_event(type="x.y", project=project, source=source, id=id_)) == example


async def test_same_id_in_two_projects_is_stored_twice(store: EventStore, project: str) -> None:
    first = ev(project, "a1", id="order-1")
    other = ev(project + "-b", "a1", id="order-1")
    results = await store.publish_many([first, other])
    assert [r.duplicate for r in results] == [False, False]
    assert [s.event.id for s in await store.read_aggregate(project + "-b", "a1")] == ["order-1"]


async def test_same_id_from_two_sources_in_one_project_is_stored_twice(
    store: EventStore, project: str
) -> None:
    first = ev(project, "a1", id="order-1")
    other = msgspec.structs.replace(first, source="/other")
    results = await store.publish_many([first, other])
    assert [r.duplicate for r in results] == [False, False]
    stored = await store.read_aggregate(project, "a1")
    assert [(s.event.source, s.event.id) for s in stored] == [("/test", "order-1"), ("/other", "order-1")]


async def test_raw_nats_publish_with_the_documented_header_is_deduplicated(
    store: EventStore, nc: NATS, project: str
) -> None:
    event = ev(project, "a1")
    ack = await nc.request(
        f"events.{project}.a1.test.happened",
        encode_event(event),
        timeout=5,
        headers={"Nats-Msg-Id": f"{project} /test {event.id}"},
    )
    raw_seq = msgspec.json.decode(ack.data)["seq"]
    assert await store.append([event]) == AppendResult([raw_seq], duplicate=True)


async def test_stale_expected_sequence_raises_and_leaves_the_stream_unchanged(
    store: EventStore, project: str
) -> None:
    first = await store.append([ev(project, "a1")], expected=0)
    await store.append([ev(project, "a1")], expected=first.last_seq)
    before = await store.bounds()
    with pytest.raises(ConcurrencyError) as caught:
        await store.append([ev(project, "a1")], expected=first.last_seq)
    assert caught.value.expected == first.last_seq
    assert caught.value.actual == first.last_seq + 1
    assert (await store.bounds()).last_seq == before.last_seq
    assert len(await store.read_aggregate(project, "a1")) == 2


async def test_expected_zero_means_the_aggregate_must_be_new(store: EventStore, project: str) -> None:
    await store.append([ev(project, "a1")], expected=0)
    with pytest.raises(ConcurrencyError):
        await store.append([ev(project, "a1")], expected=0)


async def test_other_aggregates_do_not_move_an_aggregates_version(store: EventStore, project: str) -> None:
    first = await store.append([ev(project, "a1")], expected=0)
    await store.append([ev(project, "a2")], expected=0)
    result = await store.append([ev(project, "a1")], expected=first.last_seq)
    assert len(result.seqs) == 1


async def test_multi_event_append_is_contiguous_and_in_order(store: EventStore, project: str) -> None:
    events = [ev(project, "a1", f"step.n{i}") for i in range(5)]
    result = await store.append(events, expected=0)
    assert result.seqs == list(range(result.seqs[0], result.seqs[0] + 5))
    stored = await store.read_aggregate(project, "a1")
    assert [s.event.id for s in stored] == [e.id for e in events]
    assert [s.seq for s in stored] == result.seqs


async def test_stale_multi_event_append_stores_nothing(store: EventStore, project: str) -> None:
    await store.append([ev(project, "a1")], expected=0)
    with pytest.raises(ConcurrencyError):
        await store.append([ev(project, "a1", f"step.n{i}") for i in range(3)], expected=0)
    assert len(await store.read_aggregate(project, "a1")) == 1


async def test_retried_multi_event_append_is_idempotent(store: EventStore, project: str) -> None:
    events = [ev(project, "a1", f"step.n{i}") for i in range(3)]
    first = await store.append(events, expected=0)
    again = await store.append(events, expected=0)
    assert again == AppendResult(first.seqs, duplicate=True)
    assert len(await store.read_aggregate(project, "a1")) == 3


async def test_retried_single_append_with_expected_is_idempotent(store: EventStore, project: str) -> None:
    event = ev(project, "a1")
    first = await store.append([event], expected=0)
    assert await store.append([event], expected=0) == AppendResult(first.seqs, duplicate=True)


async def test_concurrent_writers_on_one_version_exactly_one_wins(store: EventStore, project: str) -> None:
    base = await store.append([ev(project, "a1")], expected=0)
    attempts = [
        store.append([ev(project, "a1", "x.a"), ev(project, "a1", "x.b")], expected=base.last_seq)
        for _ in range(6)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if isinstance(r, AppendResult)]
    assert len(winners) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if r not in winners)
    assert len(await store.read_aggregate(project, "a1")) == 3


async def test_expected_append_requires_one_aggregate(store: EventStore, project: str) -> None:
    with pytest.raises(ValueError, match="one aggregate"):
        await store.append([ev(project, "a1"), ev(project, "a2")], expected=0)


async def test_aggregate_read_is_in_order_and_only_that_aggregate(store: EventStore, project: str) -> None:
    ids = []
    for i in range(10):
        mine = ev(project, "mine", f"n.e{i}")
        ids.append(mine.id)
        await store.append([mine])
        await store.append([ev(project, "other")])
    stored = await store.read_aggregate(project, "mine")
    assert [s.event.id for s in stored] == ids
    assert [s.seq for s in stored] == sorted(s.seq for s in stored)


async def test_aggregate_read_of_unknown_aggregate_is_empty(store: EventStore, project: str) -> None:
    assert await store.read_aggregate(project, "nobody") == []


async def test_filtered_read_from_a_cursor(store: EventStore, project: str) -> None:
    events = [ev(project, f"r{i % 2}", "job.started" if i % 3 else "job.done") for i in range(12)]
    results = await store.publish_many(events)
    cursor = results[4].last_seq
    got = await read(store, make_filter(project, ["job.started"], ["r1"]), after=cursor)
    expected = [
        e.id
        for e, r in zip(events, results, strict=True)
        if r.last_seq > cursor and e.type == "job.started" and e.subject == "r1"
    ]
    assert [e.id for e in got] == expected
    assert expected


async def test_filtered_read_from_a_time(store: EventStore, project: str) -> None:
    await store.publish_many([ev(project, "r1", "early.e") for _ in range(3)])
    early = await store.read_aggregate(project, "r1")
    since = await instant_after(early[-1].stored_ns)
    late = [ev(project, "r1", "late.e") for _ in range(3)]
    await store.publish_many(late)
    got = await read(store, make_filter(project), since=since)
    assert [e.id for e in got] == [e.id for e in late]


async def test_seq_at_time_finds_first_event_after(store: EventStore, project: str) -> None:
    since = datetime.now(UTC)  # read before the append is sent, so the event is stored after it
    result = await store.append([ev(project, "r1")])
    assert await store.seq_at_time(since) == result.last_seq


async def test_append_of_more_than_a_batch_is_refused(store: EventStore, project: str) -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        await store.append([ev(project, "big") for _ in range(1001)], expected=0)
