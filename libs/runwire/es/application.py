"""Commands against aggregates: decide against the state held here, append expecting its version.

DESIGN.md ("Event sourcing in the domain services"): a command is decided by a pure `decide` and
appended with the expected subject sequence. The state it is decided against is the one this
process last loaded or appended (kept per aggregate); it is not re-read first, because a stale
state cannot slip through: its append fails the expected-sequence check, and only then is the
aggregate reloaded and the command decided again. A refusal is confirmed against the stream
before it is returned, since newer events (another replica's) may allow what the held state refuses.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

from runwire.contract.domain_event import DomainEvent, fold
from runwire.contract.envelope import TOKEN_PATTERN
from runwire.contract.rejections import NotFound, Rejected
from runwire.es.repository import Loaded, Repository
from runwire.jetstream.event_store import ConcurrencyError, StoreError

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES: Final = 25
_TOKEN_RE = re.compile(TOKEN_PATTERN)


class Existing(Protocol):
    """A state that knows whether its aggregate was created."""

    @property
    def exists(self) -> bool: ...


E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S", bound=Existing)


class Outcome(NamedTuple, Generic[S, E]):
    """What a command did: the state after it, its version, and the events it appended."""

    state: S
    version: int
    events: list[E]


class Application(Generic[S, E]):
    """Runs commands against the aggregates of one service and answers what they look like now.

    `noun` names the aggregate in NotFound ("ingest job"). The held states are a bounded cache:
    an optimisation, never the truth (the stream is).
    """

    def __init__(self, repository: Repository[S, E], noun: str, *, cache_size: int = 4096) -> None:
        self.repository = repository
        self.noun = noun
        self._held: OrderedDict[tuple[str, str], Loaded[S]] = OrderedDict()
        self._cache_size = cache_size

    def cached(self, project: str, aggregate: str) -> Loaded[S] | None:
        """The state this process last saw, without reading the stream (may be behind)."""
        return self._held.get((project, aggregate))

    def _hold(self, project: str, aggregate: str, loaded: Loaded[S]) -> Loaded[S]:
        key = (project, aggregate)
        held = self._held.get(key)
        if loaded.version and (held is None or held.version <= loaded.version):
            self._held[key] = loaded
            self._held.move_to_end(key)
            while len(self._held) > self._cache_size:
                self._held.popitem(last=False)
        return loaded

    async def load(self, project: str, aggregate: str) -> Loaded[S]:
        """The aggregate as the stream has it now (reads only the events after the held state)."""
        loaded = await self.repository.load(project, aggregate, self.cached(project, aggregate))
        return self._hold(project, aggregate, loaded)

    async def state(self, project: str, aggregate: str) -> Loaded[S]:
        """The held state, loaded once if there is none: what a process decides its next step from."""
        return self.cached(project, aggregate) or await self.load(project, aggregate)

    async def get(self, project: str, aggregate: str) -> Loaded[S]:
        """The aggregate as the stream has it now, or NotFound naming it."""
        if _TOKEN_RE.match(aggregate):
            loaded = await self.load(project, aggregate)
            if loaded.state.exists:
                return loaded
        raise self._not_found(project, aggregate)

    def _not_found(self, project: str, aggregate: str) -> NotFound:
        return NotFound(f"{self.noun} {aggregate} not found in project {project}")

    async def list(self, project: str, type_pattern: str) -> list[Loaded[S]]:
        """Every aggregate of a project with events matching `type_pattern`, oldest first."""
        return await self.repository.list_project(project, type_pattern)

    async def execute(
        self,
        project: str,
        aggregate: str,
        decide: Callable[[S], Sequence[E]],
        *,
        id_seed: str | None = None,
        existing: bool = False,
    ) -> Outcome[S, E]:
        """Decide against the held state and append, reloading and deciding again on a conflict.

        `decide` is pure and may raise a rejection; with `existing`, an aggregate that was never
        created is NotFound. With `id_seed`, event ids derive from it, so a command retried by its
        caller stores its events once.
        """
        if existing and not _TOKEN_RE.match(aggregate):
            raise self._not_found(project, aggregate)
        held = self.cached(project, aggregate)
        fresh = held is None
        loaded = held or await self.load(project, aggregate)
        for attempt in range(MAX_CONFLICT_RETRIES):
            state, version = loaded
            try:
                if existing and not state.exists:
                    raise self._not_found(project, aggregate)
                events = list(decide(state))
            except Rejected:
                if fresh:
                    raise
                loaded, fresh = await self.load(project, aggregate), True
                continue
            if not events:
                return Outcome(state, version, [])
            try:
                seqs = await self.repository.save(project, aggregate, events, version, id_seed=id_seed)
            except ConcurrencyError:
                log.debug("conflict on %s/%s (attempt %d); reloading", project, aggregate, attempt + 1)
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                loaded, fresh = await self.load(project, aggregate), True
                continue
            if seqs[-1] <= version:
                # The very same events (same seeded ids) were stored before the version decided
                # against: this command was a repeat of one already recorded, so nothing is new.
                return Outcome(state, version, [])
            after = self._hold(
                project, aggregate, Loaded(fold(state, events, self.repository.evolve), seqs[-1])
            )
            return Outcome(after.state, after.version, events)
        raise StoreError(f"aggregate {project}/{aggregate}: gave up after {MAX_CONFLICT_RETRIES} conflicts")
