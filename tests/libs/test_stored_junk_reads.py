"""The domain services' reads skip what a raw NATS producer stored under an aggregate's subject
that is not a CloudEvent of that subject: folds never see it, and versions move past it."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from runwire.contract.envelope import CloudEvent, encode_event, new_event
from runwire.contract.filters import make_filter
from runwire.jetstream.event_store import EventStore


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

    def with_id(ids: list[str], event: CloudEvent) -> list[str]:
        return [*ids, event.id]

    no_ids: list[str] = []
    folded, version = await store.load(project, "a1", no_ids, with_id)
    assert (folded, version) == (ids, last)


async def test_reading_by_filter_skips_junk(store: EventStore, nc: NATS, project: str) -> None:
    ids, _ = await store_junk_between_events(store, nc, project)
    assert [stored.event.id for stored in await store.read(make_filter(project, [], []))] == ids
