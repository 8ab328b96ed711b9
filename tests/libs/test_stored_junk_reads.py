"""The domain services' reads skip what a raw NATS producer stored under an aggregate's subject
that is not a CloudEvent of that subject: folds never see it, and versions move past it."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.envelope import CloudEvent, encode_event, new_event
from runwire.contract.filters import make_filter
from runwire.contract.stored_check import stored_event
from runwire.es.repository import Repository
from runwire.jetstream.event_store import EventStore


class Happened(DomainEvent, frozen=True, kw_only=True, tag="test.happened"):
    """The domain event of the events below (they carry no data)."""


def ev(project: str, aggregate: str = "a1", type_: str = "test.happened") -> CloudEvent:
    return new_event(type=type_, project=project, source="/test", subject=aggregate)


async def store_junk_between_events(store: EventStore, nc: NATS, project: str) -> tuple[list[str], int]:
    """Two events of aggregate a1 with junk after each; returns their ids and the last sequence."""
    js = nc.jetstream()
    first, second = ev(project), ev(project)
    await store.append([first])
    await js.publish(f"events.{project}.a1.test.happened", b"{oops")
    await store.append([second])
    foreign = encode_event(ev("someone-else"))
    last = (await js.publish(f"events.{project}.a1.test.happened", foreign)).seq
    return [first.id, second.id], last


async def test_reading_an_aggregate_skips_junk(store: EventStore, nc: NATS, project: str) -> None:
    ids, _ = await store_junk_between_events(store, nc, project)
    assert [stored.event.id for stored in await store.read_aggregate(project, "a1")] == ids


async def test_loading_an_aggregate_folds_only_events_and_its_version_is_past_the_junk(
    store: EventStore, nc: NATS, project: str
) -> None:
    ids, last = await store_junk_between_events(store, nc, project)
    stored = [s.event for s in await store.read_aggregate(project, "a1")]
    codec = EventCodec[Happened](Happened, "/test")
    repository = Repository(store, codec, lambda _p, _a: [], lambda times, event: [*times, event.at])
    folded, version = await repository.load(project, "a1")
    assert [e.id for e in stored] == ids
    assert (folded, version) == ([e.time for e in stored], last)


async def test_reading_by_filter_skips_junk(store: EventStore, nc: NATS, project: str) -> None:
    ids, _ = await store_junk_between_events(store, nc, project)
    messages = store.iter_messages(make_filter(project, [], []))
    assert [event.id async for m in messages if (event := stored_event(m)) is not None] == ids
