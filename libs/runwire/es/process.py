"""The reactive side of a domain service: what happens after a command, on an event, at a deadline.

A service supplies its policy by overriding three hooks: `carry_on` (after each command: start or
wake work, dispatch, arm timers), `react` (an event of the followed types, read from the stream from
where the process started, turned into commands) and `resume` (an aggregate taken over from a
replica that died or let go). Everything that touches one aggregate, commands, reactions and
timers, runs under that aggregate's one lock, so side effects are never raced within a process.

Between replicas (DESIGN.md "Event sourcing in the domain services"): commands may reach any
replica, but an aggregate's side effects are driven only by the replica holding its lease (es.leases,
a JetStream work queue of the creation events). The holder follows its service's events and carries
on when another replica's command changed one of its aggregates; the expected-sequence check and
the pure `decide` refuse a step recorded twice, should two replicas ever both believe they hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Final, Generic, NamedTuple, Protocol, TypeVar

from runwire.contract.domain_event import DomainEvent
from runwire.contract.rejections import Rejected
from runwire.contract.subjects import ROOT, aggregate_filter, parse_unchecked
from runwire.es.application import Application, Outcome
from runwire.es.background import KeyedTasks
from runwire.es.leases import Lease, Leases
from runwire.es.patience import patiently
from runwire.jetstream.stream_reader import StoredMessage, StreamReader
from runwire.jetstream.work_queue import WorkQueue
from runwire.ops.settings import Settings

log = logging.getLogger(__name__)

FOLLOWER_RESTART_SECONDS: Final = 1.0


class InFlight(Protocol):
    """A state that knows whether its aggregate was created and whether its life has ended."""

    @property
    def exists(self) -> bool: ...

    @property
    def terminal(self) -> bool: ...


class ProcessSettings(NamedTuple):
    """How a service's replicas share work (`RUNWIRE_LEASE_SECONDS`, `RUNWIRE_STORE_RETRY_SECONDS`)."""

    lease_seconds: float = 3.0
    store_retry_seconds: float = 30.0
    shared: bool = True
    """Join the service's work queue: take new work and the work of replicas that died. False: drive
    only what this process creates itself and take over nothing (a process alone on a test NATS)."""

    @classmethod
    def of(cls, settings: Settings, *, shared: bool = True) -> ProcessSettings:
        """The process settings the RUNWIRE_* settings ask for."""
        return cls(settings.lease_seconds, settings.store_retry_seconds, shared)


E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S", bound=InFlight)


class ProcessManager(Generic[S, E]):
    """Drives a service's aggregates in flight; subclasses name their lifecycle and followed types."""

    created_type: ClassVar[str]
    """The event type that starts an aggregate's life: each one is a unit of work in the queue."""
    terminal_types: ClassVar[Collection[str]]
    """The event types that end it (an aggregate whose last event is one needs no driver)."""
    aggregate_types: ClassVar[str]
    """The type pattern of every event of the service's aggregates (followed to see other replicas'
    commands on the aggregates driven here)."""
    follows: ClassVar[Sequence[str]] = ()
    """Event type patterns of other services read from the stream and passed to `react` (never the
    service's own `aggregate_types`)."""

    def __init__(self, app: Application[S, E], name: str, settings: ProcessSettings | None = None) -> None:
        self.app = app
        self.name = name
        self.settings = settings or ProcessSettings()
        self.tasks = KeyedTasks(name)
        self.leases: Leases | None = None
        self.position = 0
        """The stream sequence the follower reads next."""
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._follower: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------ the policy

    async def carry_on(self, state: S) -> None:
        """After a command (under the aggregate's lock): what its new state asks of the process."""

    async def react(self, message: StoredMessage) -> None:
        """A followed event (take the lock of the aggregate it affects before commanding)."""

    async def resume(self, project: str, aggregate: str) -> None:
        """An aggregate taken over from another replica: carry on from its state as the stream has it."""
        await self._carry_on_from_stream(project, aggregate)

    # ------------------------------------------------------------------------------ ownership

    def owns(self, project: str, aggregate: str) -> bool:
        """Whether this process drives the aggregate's side effects (holds its lease)."""
        return self.leases is None or self.leases.holds(project, aggregate)

    async def _carry_on_from_stream(self, project: str, aggregate: str) -> None:
        async with self.lock(project, aggregate):
            state = (await self.app.load(project, aggregate)).state
            if self.owns(project, aggregate):
                await self.carry_on(state)

    async def settle(self, project: str, aggregate: str) -> None:
        """Release the lease of an aggregate whose life has ended (or that never began)."""
        if self.leases is None or not self.leases.holds(project, aggregate):
            return
        held = self.app.cached(project, aggregate)
        if held is None or not held.state.exists or held.state.terminal:
            await self.leases.release(project, aggregate)

    async def _take(self, project: str, aggregate: str, lease: Lease) -> None:
        """A lease granted by the work queue: begin the aggregate's work, or resume a dead holder's."""

        async def take() -> None:
            if await self._ended(project, aggregate):
                if self.leases is not None:
                    await self.leases.release(project, aggregate)
            elif lease.taken_over:
                log.info(
                    "%s %s/%s: taking over (delivery %d)",
                    self.name,
                    project,
                    aggregate,
                    lease.item.deliveries,
                )
                await self.resume(project, aggregate)
            else:
                await self._carry_on_from_stream(project, aggregate)

        await self._driving(project, aggregate, take, "taking the work on")

    async def _driving(
        self, project: str, aggregate: str, work: Callable[[], Awaitable[None]], what: str
    ) -> None:
        """Do `work` for an aggregate this process drives, waiting out an unavailable store; release
        the lease if the aggregate ended; when the work cannot be done, hand the aggregate on."""
        label = f"{self.name} {project}/{aggregate}"
        try:
            await patiently(label, work, self.settings.store_retry_seconds)
            await self.settle(project, aggregate)
        except Exception:
            log.exception("%s: %s failed; handing the work on", label, what)
            await self._hand_back(project, aggregate)

    async def _ended(self, project: str, aggregate: str) -> bool:
        """Whether the aggregate's last event ends it: told in one request, so that a backlog of
        finished work (the first start over a long history) is acknowledged without loading each."""
        last = await self.app.repository.store.last_event(aggregate_filter(project, aggregate))
        return last is not None and last.type in self.terminal_types

    def _lost(self, project: str, aggregate: str) -> None:
        """The lease could not be renewed: stop this aggregate's work here (another replica goes on)."""
        self.tasks.cancel_aggregate(project, aggregate)

    async def _hand_back(self, project: str, aggregate: str) -> None:
        """Stop driving an aggregate that cannot go on here now; the queue hands it on after a lease."""
        self.tasks.cancel_aggregate(project, aggregate)
        if self.leases is not None:
            await self.leases.hand_back(project, aggregate, delay_seconds=self.settings.lease_seconds)

    # ------------------------------------------------------------------------------- commands

    def lock(self, project: str, aggregate: str) -> asyncio.Lock:
        """The one lock of an aggregate in this process (forgotten once nobody holds or waits on it)."""
        key = (project, aggregate)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(
        self,
        project: str,
        aggregate: str,
        decide: Callable[[S], Sequence[E]],
        *,
        id_seed: str | None = None,
        existing: bool = False,
    ) -> Outcome[S, E]:
        """Execute a command under the aggregate's lock; if this process drives the aggregate, carry
        on from the state it left (otherwise its driver sees the new events and does)."""
        async with self.lock(project, aggregate):
            outcome = await self.app.execute(project, aggregate, decide, id_seed=id_seed, existing=existing)
            if self.owns(project, aggregate):
                await self.carry_on(outcome.state)
                await self.settle(project, aggregate)
        return outcome

    async def drive(
        self,
        project: str,
        aggregate: str,
        work: Callable[[], Awaitable[None]],
        record_failure: Callable[[str], Awaitable[object]],
    ) -> None:
        """Run one aggregate's background work, again from its state while the store is away (for
        `store_retry_seconds`); a refusal ends it quietly (another process or a user moved the
        aggregate on), a crash is logged and recorded on the aggregate so that it does not hang."""
        label = f"{self.name} {project}/{aggregate}"
        budget = self.settings.store_retry_seconds
        try:
            await patiently(label, work, budget)
        except Rejected as exc:
            log.info("%s stopped: %s", label, exc.detail)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed", label)
            error = f"{type(exc).__name__}: {exc}"
            try:
                await patiently(label, lambda: record_failure(error), budget)
            except Rejected:
                pass
            except Exception:
                log.exception("%s: could not record the failure; handing the work on", label)
                await self._hand_back(project, aggregate)

    # --------------------------------------------------------------------------------- timers

    def timer(
        self, project: str, aggregate: str, name: str, at: datetime, fire: Callable[[], Awaitable[None]]
    ) -> None:
        """At `at`, run `fire` under the aggregate's lock (once: a timer pending under `name` is kept),
        again while the store is away; if it cannot, the aggregate's work is handed on."""

        async def locked() -> None:
            async with self.lock(project, aggregate):
                await fire()

        async def wait_and_fire() -> None:
            await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
            await self._driving(project, aggregate, locked, f"timer {name}")

        self.tasks.start((project, aggregate, name), wait_and_fire)

    def cancel(self, project: str, aggregate: str, name: str) -> None:
        """Cancel the pending timer or work under this name, if any."""
        self.tasks.cancel((project, aggregate, name))

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Follow the stream from its end; then, when shared, take work from the service's queue.

        Nothing here reads the stream's history: unfinished work is what the queue still holds.
        """
        store = self.app.repository.store
        budget = self.settings.store_retry_seconds
        filters = [f"{ROOT}.*.*.{pattern}" for pattern in self.follows]
        if self.settings.shared:
            filters.append(f"{ROOT}.*.*.{self.aggregate_types}")
        if filters:
            self.position = (await patiently(self.name, store.bounds, budget)).last_seq + 1
            self._follower = asyncio.create_task(self._follow(filters), name=f"{self.name}-follower")
        if self.settings.shared:
            queue = await patiently(
                self.name,
                lambda: WorkQueue.open(
                    store.nc,
                    stream=store.stream,
                    name=f"runwire-{self.name}",
                    filter_subject=f"{ROOT}.*.*.{self.created_type}",
                    lease_seconds=self.settings.lease_seconds,
                ),
                budget,
            )
            self.leases = Leases(queue, self.settings.lease_seconds, self._take, self._lost)
            self.leases.start()

    async def aclose(self) -> None:
        """Stop following, cancel all work and timers, hand held work to the other replicas (state
        is in the stream; nothing is lost)."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self.tasks.close()
        if self.leases is not None:
            await self.leases.aclose()

    async def _follow(self, filters: list[str]) -> None:
        """Read the followed types from `position` on, for ever; a failed read restarts where it was."""
        store = self.app.repository.store
        # The service's own types are followed only when it shares work (and `follows` never names them).
        prefix = self.aggregate_types.removesuffix(">") if self.settings.shared else None
        while True:
            reader = StreamReader(store.nc, store.stream, filters, start_seq=self.position, follow=True)
            try:
                async with contextlib.aclosing(reader.batches()) as batches:
                    async for batch in batches:
                        for message in batch:
                            self.position = message.seq + 1
                            subject = parse_unchecked(message.subject)
                            if prefix is not None and subject.type.startswith(prefix):
                                self._changed(subject.project, subject.aggregate, message.seq)
                            else:
                                await self._react(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: following events failed; restarting at %d", self.name, self.position)
                await asyncio.sleep(FOLLOWER_RESTART_SECONDS)

    async def _react(self, message: StoredMessage) -> None:
        try:
            await patiently(
                f"{self.name} reacting to {message.seq}",
                lambda: self.react(message),
                self.settings.store_retry_seconds,
            )
        except Exception:
            log.exception("%s: reacting to event %d failed", self.name, message.seq)

    def _changed(self, project: str, aggregate: str, seq: int) -> None:
        """An event of one of the service's aggregates: if it is driven here and the event is not
        one this process wrote, carry on from the stream (another replica's command changed it)."""
        if self.leases is None or not self.leases.holds(project, aggregate):
            return
        held = self.app.cached(project, aggregate)
        if held is not None and held.version >= seq:
            return

        async def carry_on() -> None:
            work = functools.partial(self._carry_on_from_stream, project, aggregate)
            await self._driving(project, aggregate, work, "carrying on after a change")

        self.tasks.start((project, aggregate, "changed", seq), carry_on)
