"""The event-sourcing kit of the domain services (decide against the held state, append, retry on a
conflict), on a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.rejections import InvalidTransition, NotFound
from runwire.es.application import Application
from runwire.es.repository import Repository
from runwire.jetstream.event_store import EventStore
from runwire.ops.tunables import TunablesError, load_tunables

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Added(DomainEvent, frozen=True, kw_only=True, tag="test.counter.added"):
    amount: int


class Counter(msgspec.Struct, frozen=True):
    project: str
    id: str
    total: int = 0
    adds: int = 0

    @property
    def exists(self) -> bool:
        return self.adds > 0

    @property
    def terminal(self) -> bool:
        return False


def evolve(counter: Counter, event: Added) -> Counter:
    return msgspec.structs.replace(counter, total=counter.total + event.amount, adds=counter.adds + 1)


def add(amount: int, limit: int = 1000) -> Callable[[Counter], list[Added]]:
    def decide(counter: Counter) -> list[Added]:
        if counter.total + amount > limit:
            raise InvalidTransition(f"the total would pass {limit}")
        return [Added(at=T0, amount=amount)]

    return decide


def repository(store: EventStore) -> Application[Counter, Added]:
    """An application over counters, as one process has it (with its own held states)."""
    codec = EventCodec[Added](Added, "/test")
    return Application(Repository(store, codec, lambda p, a: Counter(p, a), evolve), "counter")


async def test_concurrent_commands_on_one_aggregate_all_land(store: EventStore, project: str) -> None:
    writers = [repository(store) for _ in range(4)]  # four processes, each with its own cache
    await asyncio.gather(*(w.execute(project, "c1", add(1)) for w in writers for _ in range(5)))
    assert (await repository(store).load(project, "c1")).state.total == 20


async def test_state_is_rebuilt_from_the_stream_alone(store: EventStore, project: str) -> None:
    writer = repository(store)
    outcome = await writer.execute(project, "c1", add(3))
    await writer.execute(project, "c1", add(4))
    fresh = await repository(store).load(project, "c1")
    assert (fresh.state.total, fresh.version) == (7, outcome.version + 1)


async def test_a_rejection_appends_nothing(store: EventStore, project: str) -> None:
    writer = repository(store)
    await writer.execute(project, "c1", add(5, limit=6))
    with pytest.raises(InvalidTransition):
        await writer.execute(project, "c1", add(5, limit=6))
    assert len(await store.read_aggregate(project, "c1")) == 1


async def test_a_seeded_command_repeated_elsewhere_is_stored_once(store: EventStore, project: str) -> None:
    first, second = repository(store), repository(store)
    await first.execute(project, "c1", add(1), id_seed="request-1")
    repeat = await second.execute(project, "c1", add(1), id_seed="request-1")
    assert (repeat.state.total, repeat.events) == (1, [])
    assert len(await store.read_aggregate(project, "c1")) == 1


async def test_load_existing_of_an_unknown_aggregate_is_not_found(store: EventStore, project: str) -> None:
    with pytest.raises(NotFound) as caught:
        await repository(store).get(project, "nope")
    assert caught.value.detail == f"counter nope not found in project {project}"


async def test_a_command_decided_against_a_stale_state_is_decided_again(
    store: EventStore, project: str
) -> None:
    mine, other = repository(store), repository(store)
    await mine.execute(project, "c1", add(1))
    await other.execute(project, "c1", add(10))  # `mine` still holds total=1
    outcome = await mine.execute(project, "c1", add(100))
    assert (outcome.state.total, outcome.version) == (111, (await other.load(project, "c1")).version)


async def test_a_refusal_of_a_stale_state_is_checked_against_the_stream(
    store: EventStore, project: str
) -> None:
    mine, other = repository(store), repository(store)
    await mine.execute(project, "c1", add(1))
    await other.execute(project, "c1", add(10))  # `mine` still holds total=1 and would allow +5
    with pytest.raises(InvalidTransition):
        await mine.execute(project, "c1", add(5, limit=12))
    assert (await mine.load(project, "c1")).state.total == 11


async def test_a_command_on_a_held_state_reads_nothing(store: EventStore, nc: NATS, project: str) -> None:
    app = repository(store)
    await app.execute(project, "c1", add(1))
    created: list[str] = []

    async def on_api(msg: Msg) -> None:
        created.append(msg.subject)

    api = await nc.subscribe("$JS.API.CONSUMER.CREATE.>", cb=on_api)
    await nc.flush()
    await app.execute(project, "c1", add(2), existing=True)
    await nc.flush()
    await api.unsubscribe()
    assert created == []


class Knobs(msgspec.Struct, frozen=True, kw_only=True):
    size: int = 10
    delay_seconds: float = 0.5
    share_work: bool = True


def test_tunables_come_from_prefixed_variables() -> None:
    knobs = load_tunables(
        Knobs, "RUNWIRE_TEST_", {"RUNWIRE_TEST_SIZE": "20", "RUNWIRE_TEST_SHARE_WORK": "false"}
    )
    assert knobs == Knobs(size=20, delay_seconds=0.5, share_work=False)


def test_a_bad_tunable_names_its_variable() -> None:
    with pytest.raises(TunablesError) as caught:
        load_tunables(Knobs, "RUNWIRE_TEST_", {"RUNWIRE_TEST_SIZE": "big"})
    assert str(caught.value) == "RUNWIRE_TEST_SIZE='big': Expected `int`, got `str`"
