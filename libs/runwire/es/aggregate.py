"""Event-sourced aggregates on the EVENTS stream: load, decide, append with retry, once for every service.

Each domain service states its rules as pure functions (`decide(command, state) -> events`,
`evolve(state, event) -> state`); this module is the only place that turns them into I/O, as
DESIGN.md ("Event sourcing in the domain services") prescribes: fold the aggregate's events, decide
against that version, append expecting it, and on a conflict catch up and decide again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, NamedTuple, Protocol, TypeVar

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.envelope import TOKEN_PATTERN, CloudEvent
from runwire.contract.filters import make_filter
from runwire.contract.rejections import NotFound
from runwire.contract.stored_check import stored_event
from runwire.jetstream.event_store import ConcurrencyError, EventStore, StoreError

log = logging.getLogger(__name__)

# Namespace of event ids derived from a seed, so that a retried decision reuses its ids.
EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1d7c1e-4a7b-4f43-9c61-2d9f6a0c5e11")
MAX_CONFLICT_RETRIES: Final = 25
MAX_STORE_RETRIES: Final = 5
_TOKEN_RE = re.compile(TOKEN_PATTERN)


E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S")


class Loaded(NamedTuple, Generic[S]):
    """An aggregate's state and its version (the stream sequence of its last event; 0 when new)."""

    state: S
    version: int


class Outcome(NamedTuple, Generic[S, E]):
    """What a command did: the state after it, its version, and the events it appended."""

    state: S
    version: int
    events: list[E]


Listener = Callable[[str, str, Any, Sequence[Any]], None]


class Repository(Generic[S, E]):
    """Loads aggregates of one kind and runs commands against them with optimistic concurrency.

    A bounded cache keeps each aggregate's last known state and version; a load reads only the
    events stored after that version, so the cache is an optimisation and never the truth.
    """

    def __init__(
        self,
        store: EventStore,
        codec: EventCodec[E],
        initial: Callable[[str, str], S],
        evolve: Callable[[S, E], S],
        *,
        cache_size: int = 4096,
    ) -> None:
        self.store = store
        self.codec = codec
        self._initial = initial
        self._evolve = evolve
        self._cache: OrderedDict[tuple[str, str], Loaded[S]] = OrderedDict()
        self._cache_size = cache_size
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(project, aggregate, state, events)` after every append made here."""
        self._listeners.append(listener)

    def cached(self, project: str, aggregate: str) -> Loaded[S] | None:
        """The last state this process saw, without reading the stream (may be behind)."""
        return self._cache.get((project, aggregate))

    def _remember(self, key: tuple[str, str], loaded: Loaded[S]) -> None:
        self._cache[key] = loaded
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def load(self, project: str, aggregate: str) -> Loaded[S]:
        """The aggregate's current state: the cached state caught up with the events stored since."""
        key = (project, aggregate)
        state, version = self._cache.get(key) or Loaded(self._initial(project, aggregate), 0)
        async for message in self.store.read_aggregate_raw(project, aggregate, after=version):
            cloud = stored_event(message)  # junk from a raw producer is skipped, never folded
            event = self.codec.decode(cloud) if cloud is not None else None
            if event is not None:
                state = self._evolve(state, event)
            version = message.seq
        loaded = Loaded(state, version)
        if version:
            self._remember(key, loaded)
        return loaded

    async def execute(
        self,
        project: str,
        aggregate: str,
        decide: Callable[[S], Sequence[E]],
        *,
        id_seed: str | None = None,
    ) -> Outcome[S, E]:
        """Decide against the current state and append the events, retrying on conflicts.

        `decide` is pure and may raise a rejection, which propagates. With `id_seed`, event ids
        derive from it, so a command retried by its caller stores its events once.
        """
        key = (project, aggregate)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            for attempt in range(MAX_CONFLICT_RETRIES):
                state, version = await self.load(project, aggregate)
                events = list(decide(state))
                if not events:
                    return Outcome(state, version, [])
                cloud = [
                    self.codec.encode(
                        e, project=project, aggregate=aggregate, id=self._event_id(key, id_seed, i)
                    )
                    for i, e in enumerate(events)
                ]
                try:
                    seqs = await self._append(cloud, version)
                except ConcurrencyError:
                    log.debug("conflict on %s/%s (attempt %d); reloading", project, aggregate, attempt + 1)
                    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    continue
                if seqs[-1] <= version:
                    # The very same events (same seeded ids) were stored before the version decided
                    # against: this command was a repeat of one already recorded, so nothing is new.
                    return Outcome(state, version, [])
                for event in events:
                    state = self._evolve(state, event)
                loaded = Loaded(state, seqs[-1])
                self._remember(key, loaded)
                for listener in self._listeners:
                    listener(project, aggregate, state, events)
                return Outcome(state, loaded.version, events)
        raise StoreError(f"aggregate {project}/{aggregate}: gave up after {MAX_CONFLICT_RETRIES} conflicts")

    async def _append(self, events: list[CloudEvent], version: int) -> list[int]:
        """Append, retrying the very same events when the store says a retry is safe."""
        for attempt in range(MAX_STORE_RETRIES):
            try:
                return (await self.store.append(events, expected=version)).seqs
            except StoreError as exc:
                if not exc.retryable or attempt == MAX_STORE_RETRIES - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _event_id(key: tuple[str, str], seed: str | None, index: int) -> str:
        if seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{key[0]}/{key[1]}/{seed}/{index}"))

    async def list_project(self, project: str, type_pattern: str) -> list[Loaded[S]]:
        """Every aggregate of a project with events matching `type_pattern`, folded, oldest first."""
        states: dict[str, Loaded[S]] = {}
        async for message in self.store.iter_messages(make_filter(project, [type_pattern])):
            cloud = stored_event(message)
            event = self.codec.decode(cloud) if cloud is not None else None
            if cloud is None or event is None:
                continue
            state, _ = states.get(cloud.aggregate) or Loaded(self._initial(project, cloud.aggregate), 0)
            states[cloud.aggregate] = Loaded(self._evolve(state, event), message.seq)
        return list(states.values())


class Existing(Protocol):
    """A state that knows whether its aggregate was created."""

    @property
    def exists(self) -> bool: ...


X = TypeVar("X", bound=Existing)


async def load_existing(repo: Repository[X, Any], project: str, aggregate: str, noun: str) -> Loaded[X]:
    """The aggregate's current state, or NotFound naming it (`noun` is e.g. "ingest job")."""
    if _TOKEN_RE.match(aggregate):
        loaded = await repo.load(project, aggregate)
        if loaded.state.exists:
            return loaded
    raise NotFound(f"{noun} {aggregate} not found in project {project}")
