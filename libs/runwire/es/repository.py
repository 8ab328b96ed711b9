"""Aggregates of one kind on the EVENTS stream: read and fold their events, append expecting a version.

The only place where a service's domain events meet the store: `load` folds what is stored (junk
from raw producers skipped, never folded), `save` encodes and appends with the version the events
were decided against, so a writer that decided against a stale state gets a ConcurrencyError.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Final, Generic, NamedTuple, TypeVar

from runwire.contract.domain_event import DomainEvent, EventCodec, fold
from runwire.contract.filters import make_filter
from runwire.contract.stored_check import stored_event
from runwire.jetstream.event_store import EventStore, StoreError
from runwire.jetstream.stream_reader import StoredMessage

# Namespace of event ids derived from a seed, so that a retried decision reuses its ids.
EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1d7c1e-4a7b-4f43-9c61-2d9f6a0c5e11")
MAX_STORE_RETRIES: Final = 5

E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S")


class Loaded(NamedTuple, Generic[S]):
    """An aggregate's state and its version (the stream sequence of its last event; 0 when new)."""

    state: S
    version: int


class Repository(Generic[S, E]):
    """Reads and appends the aggregates of one service, with its codec and its `evolve`."""

    def __init__(
        self,
        store: EventStore,
        codec: EventCodec[E],
        initial: Callable[[str, str], S],
        evolve: Callable[[S, E], S],
    ) -> None:
        self.store = store
        self.codec = codec
        self.initial = initial
        self.evolve = evolve

    def _event(self, message: StoredMessage) -> E | None:
        cloud = stored_event(message)
        return self.codec.decode(cloud) if cloud is not None else None

    async def load(self, project: str, aggregate: str, since: Loaded[S] | None = None) -> Loaded[S]:
        """The aggregate now: `since` (or the initial state) caught up with the events stored after it."""
        state, version = since or Loaded(self.initial(project, aggregate), 0)
        events: list[E] = []
        async for message in self.store.read_aggregate_raw(project, aggregate, after=version):
            if (event := self._event(message)) is not None:
                events.append(event)
            version = message.seq
        return Loaded(fold(state, events, self.evolve), version)

    async def save(
        self, project: str, aggregate: str, events: Sequence[E], expected: int, *, id_seed: str | None = None
    ) -> list[int]:
        """Append `events` if the aggregate is still at version `expected`; their sequences.

        Raises ConcurrencyError when it moved on. With `id_seed`, event ids derive from it, so the
        same decision saved twice (a retried command) is stored once.
        """
        cloud = [
            self.codec.encode(
                e, project=project, aggregate=aggregate, id=_event_id(project, aggregate, id_seed, i)
            )
            for i, e in enumerate(events)
        ]
        for attempt in range(MAX_STORE_RETRIES):
            try:
                return (await self.store.append(cloud, expected=expected)).seqs
            except StoreError as exc:
                if not exc.retryable or attempt == MAX_STORE_RETRIES - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def list_project(self, project: str, type_pattern: str) -> list[Loaded[S]]:
        """Every aggregate of a project with events matching `type_pattern`, folded, oldest first."""
        events: dict[str, list[E]] = {}
        versions: dict[str, int] = {}
        async for message in self.store.iter_messages(make_filter(project, [type_pattern])):
            cloud = stored_event(message)
            event = self.codec.decode(cloud) if cloud is not None else None
            if cloud is None or event is None:
                continue
            events.setdefault(cloud.aggregate, []).append(event)
            versions[cloud.aggregate] = message.seq
        return [
            Loaded(fold(self.initial(project, aggregate), folded, self.evolve), versions[aggregate])
            for aggregate, folded in events.items()
        ]


def _event_id(project: str, aggregate: str, seed: str | None, index: int) -> str:
    if seed is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{project}/{aggregate}/{seed}/{index}"))
