"""Replicas of a domain service share its work through the kit's leases (es.leases on a JetStream work
queue), on a real nats-server of their own: each aggregate is driven by one replica at a time, a dead
replica's work moves to another within its lease, a stopped one hands its work over at once, and
finished work is never handed out again."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.rejections import InvalidTransition
from runwire.es.application import Application
from runwire.es.process import ProcessManager, ProcessSettings
from runwire.es.repository import Repository
from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, StoreError, StreamSettings
from tests.support.eventually import eventually
from tests.support.nats_server import nats_server

LEASE_SECONDS = 1.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROJECT = "p1"


class ChoreCreated(DomainEvent, frozen=True, kw_only=True, tag="test.chore.created"):
    steps: int
    gated: bool = False


class StepDone(DomainEvent, frozen=True, kw_only=True, tag="test.chore.step"):
    index: int
    by: str


class Approved(DomainEvent, frozen=True, kw_only=True, tag="test.chore.approved"):
    by: str


class ChoreDone(DomainEvent, frozen=True, kw_only=True, tag="test.chore.done"):
    by: str


ChoreEvent = ChoreCreated | StepDone | Approved | ChoreDone


class Chore(msgspec.Struct, frozen=True):
    project: str
    id: str
    steps: int = 0
    done: int = 0
    gated: bool = False
    approved: bool = False
    finished: bool = False
    created: bool = False

    @property
    def exists(self) -> bool:
        return self.created

    @property
    def terminal(self) -> bool:
        return self.finished


def evolve(chore: Chore, event: ChoreEvent) -> Chore:
    match event:
        case ChoreCreated(steps=steps, gated=gated):
            return msgspec.structs.replace(chore, created=True, steps=steps, gated=gated)
        case StepDone(index=index):
            return msgspec.structs.replace(chore, done=index)
        case Approved():
            return msgspec.structs.replace(chore, approved=True)
        case ChoreDone():
            return msgspec.structs.replace(chore, finished=True)


def create(steps: int, *, gated: bool = False) -> Callable[[Chore], list[ChoreEvent]]:
    return lambda chore: [] if chore.exists else [ChoreCreated(at=T0, steps=steps, gated=gated)]


def step(index: int, by: str) -> Callable[[Chore], list[ChoreEvent]]:
    def decide(chore: Chore) -> list[ChoreEvent]:
        if chore.terminal or index != chore.done + 1:
            raise InvalidTransition(f"chore {chore.id}: the next step is {chore.done + 1}, not {index}")
        return [StepDone(at=T0, index=index, by=by)]

    return decide


def approve(by: str) -> Callable[[Chore], list[ChoreEvent]]:
    return lambda chore: [] if chore.approved else [Approved(at=T0, by=by)]


def finish(by: str) -> Callable[[Chore], list[ChoreEvent]]:
    def decide(chore: Chore) -> list[ChoreEvent]:
        if chore.terminal or chore.done < chore.steps or (chore.gated and not chore.approved):
            raise InvalidTransition(f"chore {chore.id} cannot finish yet")
        return [ChoreDone(at=T0, by=by)]

    return decide


class ChoreProcess(ProcessManager[Chore, ChoreEvent]):
    """Does a chore's steps one by one (each recorded with the replica that did it), then finishes it;
    a gated chore waits for an approval before it finishes."""

    created_type = "test.chore.created"
    terminal_types = ("test.chore.done",)
    aggregate_types = "test.chore.>"

    def __init__(self, app: Application[Chore, ChoreEvent], replica: str, step_seconds: float) -> None:
        super().__init__(app, "chores", ProcessSettings(lease_seconds=LEASE_SECONDS, store_retry_seconds=2.0))
        self.replica = replica
        self.step_seconds = step_seconds

    async def carry_on(self, state: Chore) -> None:
        if state.exists and not state.terminal:
            self.tasks.start((state.project, state.id), lambda: self._work(state.project, state.id))

    async def _work(self, project: str, chore_id: str) -> None:
        await self.drive(project, chore_id, lambda: self._steps(project, chore_id), self._never_fails)

    async def _never_fails(self, error: str) -> None:
        raise AssertionError(f"a chore failed: {error}")

    async def _steps(self, project: str, chore_id: str) -> None:
        while True:
            chore = (await self.app.state(project, chore_id)).state
            if chore.terminal or (chore.done == chore.steps and chore.gated and not chore.approved):
                return
            if chore.done == chore.steps:
                await self.handle(project, chore_id, finish(self.replica))
                return
            await asyncio.sleep(self.step_seconds)
            await self.handle(project, chore_id, step(chore.done + 1, self.replica))


@dataclass
class Replica:
    """One replica of the chores service: its own connection, held states and process."""

    name: str
    nc: NATS
    app: Application[Chore, ChoreEvent]
    process: ChoreProcess


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server of this test's own: the work queue is per server, so no other test's work mixes in."""
    with nats_server(tmp_path) as url:
        yield url


@contextlib.asynccontextmanager
async def replica(url: str, name: str, *, step_seconds: float = 0.02) -> AsyncIterator[Replica]:
    nc = await connect_nats([url], name)
    store = EventStore(nc)
    await store.ensure_stream(StreamSettings())
    codec = EventCodec[ChoreEvent](ChoreEvent, "/test/chores")
    app = Application(Repository(store, codec, lambda p, a: Chore(p, a), evolve), "chore")
    process = ChoreProcess(app, name, step_seconds)
    try:
        await process.start()
        yield Replica(name, nc, app, process)
    finally:
        with contextlib.suppress(StoreError):
            await process.aclose()
        await nc.close()


async def history(store_nc: NATS, chore_id: str) -> list[ChoreEvent]:
    store = EventStore(store_nc)
    codec = EventCodec[ChoreEvent](ChoreEvent, "/test/chores")
    return [
        event
        for stored in await store.read_aggregate(PROJECT, chore_id)
        if (event := codec.decode(stored.event)) is not None
    ]


async def finished(nc: NATS, chore_id: str) -> list[ChoreEvent] | None:
    events = await history(nc, chore_id)
    return events if events and isinstance(events[-1], ChoreDone) else None


def steps_of(events: list[ChoreEvent]) -> list[tuple[int, str]]:
    return [(event.index, event.by) for event in events if isinstance(event, StepDone)]


async def test_each_aggregate_is_driven_by_one_replica_and_each_step_recorded_once(server_url: str) -> None:
    async with replica(server_url, "a") as a, replica(server_url, "b") as b:
        for index in range(8):
            await a.process.handle(PROJECT, f"c{index}", create(5))
        for index in range(8):
            events = await eventually(functools.partial(finished, b.nc, f"c{index}"))
            steps = steps_of(events)
            assert [number for number, _ in steps] == [1, 2, 3, 4, 5]
            last = events[-1]
            assert isinstance(last, ChoreDone)
            assert len({by for _, by in steps} | {last.by}) == 1


def done_steps(holder: Replica, chore_id: str) -> int:
    held = holder.app.cached(PROJECT, chore_id)
    return held.state.done if held is not None else 0


async def test_a_dead_replicas_work_is_taken_over_within_its_lease(server_url: str) -> None:
    observer = await connect_nats([server_url], "observer")
    try:
        async with replica(server_url, "a", step_seconds=0.1) as a:
            await a.process.handle(PROJECT, "c1", create(30))
            await eventually(lambda: done_steps(a, "c1") >= 3)
            async with replica(server_url, "b", step_seconds=0.1) as b:
                await a.nc.close()  # a dies: it neither hands the work back nor renews its lease
                died = time.monotonic()
                await eventually(lambda: b.process.owns(PROJECT, "c1"))
                taken_after = time.monotonic() - died
                events = await eventually(lambda: finished(observer, "c1"), timeout=30)
    finally:
        await observer.close()
    steps = steps_of(events)
    assert [number for number, _ in steps] == list(range(1, 31))
    assert (steps[0][1], steps[-1][1]) == ("a", "b")
    assert taken_after < LEASE_SECONDS + 2.0


async def test_a_stopping_replica_hands_its_work_over_at_once(server_url: str) -> None:
    async with (
        replica(server_url, "b", step_seconds=0.05) as b,
        replica(server_url, "a", step_seconds=0.05) as a,
    ):
        await a.process.handle(PROJECT, "c1", create(40))
        await eventually(lambda: a.process.owns(PROJECT, "c1") or b.process.owns(PROJECT, "c1"))
        holder, other = (a, b) if a.process.owns(PROJECT, "c1") else (b, a)
        await holder.process.aclose()
        stopped = time.monotonic()
        await eventually(lambda: other.process.owns(PROJECT, "c1"))
        assert time.monotonic() - stopped < LEASE_SECONDS
        events = await eventually(lambda: finished(other.nc, "c1"), timeout=30)
    assert [number for number, _ in steps_of(events)] == list(range(1, 41))


async def test_a_command_on_another_replica_is_carried_on_by_the_holder(server_url: str) -> None:
    async with replica(server_url, "a") as a:
        await a.process.handle(PROJECT, "c1", create(2, gated=True))
        await eventually(lambda: a.process.owns(PROJECT, "c1"))
        waiting = await eventually(
            lambda: (c := a.app.cached(PROJECT, "c1")) is not None and c.state.done == 2 and c.state
        )
        assert not waiting.finished
        async with replica(server_url, "b") as b:
            await b.process.handle(PROJECT, "c1", approve("b"))
            events = await eventually(lambda: finished(b.nc, "c1"))
    assert events[-1] == ChoreDone(at=T0, by="a")


async def test_finished_work_is_never_handed_out_again(server_url: str) -> None:
    async with replica(server_url, "a") as a:
        for index in range(3):
            await a.process.handle(PROJECT, f"c{index}", create(2))
        for index in range(3):
            await eventually(functools.partial(finished, a.nc, f"c{index}"))
    async with replica(server_url, "b") as b:
        js = b.nc.jetstream()

        async def queue_empty() -> bool:
            info = await js.consumer_info("EVENTS", "runwire-chores")
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await eventually(queue_empty)
        assert b.process.leases is not None and len(b.process.leases) == 0
