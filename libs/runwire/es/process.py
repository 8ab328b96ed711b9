"""The reactive side of a domain service: what happens after a command, on an event, at a deadline.

A service supplies its policy by overriding three hooks: `carry_on` (after each command: start or
wake work, dispatch, arm timers), `react` (an event of the followed types, read from the stream from
a position onwards, turned into commands) and `resume` (each aggregate left unfinished, found from
the stream on start). Everything that touches one aggregate, commands, reactions and timers, runs
under that aggregate's one lock, so side effects are never raced within a process; concurrency
between processes is the expected-sequence check's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Final, Generic, TypeVar

from runwire.contract.domain_event import DomainEvent
from runwire.contract.rejections import Rejected
from runwire.contract.subjects import ROOT
from runwire.es.application import Application, Existing, Outcome
from runwire.es.background import KeyedTasks
from runwire.es.recovery import open_aggregates
from runwire.jetstream.stream_reader import StoredMessage, StreamReader

log = logging.getLogger(__name__)


async def drive(
    label: str, work: Awaitable[None], record_failure: Callable[[str], Awaitable[object]]
) -> None:
    """Run one aggregate's background work: a refusal ends it quietly (another process or a user moved
    the aggregate on), a crash is logged and recorded on the aggregate so that it does not hang."""
    try:
        await work
    except Rejected as exc:
        log.info("%s stopped: %s", label, exc.detail)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("%s failed", label)
        with contextlib.suppress(Rejected):
            await record_failure(f"{type(exc).__name__}: {exc}")


FOLLOWER_RESTART_SECONDS: Final = 1.0

E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S", bound=Existing)


class ProcessManager(Generic[S, E]):
    """Drives a service's aggregates in flight; subclasses name their lifecycle and followed types."""

    created_type: ClassVar[str]
    """The event type that starts an aggregate's life (recovery looks for these)."""
    terminal_types: ClassVar[Iterable[str]]
    """The event types that end it."""
    follows: ClassVar[Sequence[str]] = ()
    """Event type patterns read from the stream and passed to `react` (none: no follower)."""

    def __init__(self, app: Application[S, E], name: str) -> None:
        self.app = app
        self.name = name
        self.tasks = KeyedTasks(name)
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
        """An aggregate left unfinished by an earlier process: carry on from its state."""
        async with self.lock(project, aggregate):
            await self.carry_on((await self.app.state(project, aggregate)).state)

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
        """Execute a command under the aggregate's lock, then carry on from the state it left."""
        async with self.lock(project, aggregate):
            outcome = await self.app.execute(project, aggregate, decide, id_seed=id_seed, existing=existing)
            await self.carry_on(outcome.state)
        return outcome

    # --------------------------------------------------------------------------------- timers

    def timer(
        self, project: str, aggregate: str, name: str, at: datetime, fire: Callable[[], Awaitable[None]]
    ) -> None:
        """At `at`, run `fire` under the aggregate's lock (once: a timer pending under `name` is kept)."""

        async def wait_and_fire() -> None:
            await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
            async with self.lock(project, aggregate):
                await fire()

        self.tasks.start((project, aggregate, name), wait_and_fire)

    def cancel(self, project: str, aggregate: str, name: str) -> None:
        """Cancel the pending timer or work under this name, if any."""
        self.tasks.cancel((project, aggregate, name))

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self, *, recover: bool) -> None:
        """Follow from the end of the stream, then (if asked) resume the aggregates left unfinished."""
        if self.follows:
            self.position = (await self.app.repository.store.bounds()).last_seq + 1
            self._follower = asyncio.create_task(self._follow(), name=f"{self.name}-follower")
        if recover:
            await self.recover()

    async def recover(self) -> int:
        """Resume every aggregate the stream shows as created and not yet ended; returns how many."""
        store = self.app.repository.store
        unfinished = await open_aggregates(
            store.nc, self.created_type, self.terminal_types, stream=store.stream
        )
        for project, aggregate in unfinished:
            try:
                await self.resume(project, aggregate)
            except Exception:
                log.exception("%s %s/%s: could not resume", self.name, project, aggregate)
        if unfinished:
            log.info("%s: resuming %d unfinished aggregate(s)", self.name, len(unfinished))
        return len(unfinished)

    async def aclose(self) -> None:
        """Stop following and cancel all work and timers (state is in the stream; nothing is lost)."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self.tasks.close()

    async def _follow(self) -> None:
        """Read the followed types from `position` on, for ever; a failed read restarts where it was."""
        store = self.app.repository.store
        filters = [f"{ROOT}.*.*.{pattern}" for pattern in self.follows]
        while True:
            reader = StreamReader(store.nc, store.stream, filters, start_seq=self.position, follow=True)
            try:
                async with contextlib.aclosing(reader.batches()) as batches:
                    async for batch in batches:
                        for message in batch:
                            self.position = message.seq + 1
                            await self.react(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: following events failed; restarting at %d", self.name, self.position)
                await asyncio.sleep(FOLLOWER_RESTART_SECONDS)
