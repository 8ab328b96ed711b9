"""The subscription index: which live subscribers an event goes to, without scanning all clients.

Project -> aggregate (or any) -> exact types in a dict, patterns compiled once per distinct pattern,
and subscribers that take every type. A subscriber whose filter has several entries that one event
can match (overlapping type patterns) is still returned once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from runwire.contract.filters import EventFilter, compile_pattern
from runwire_stream_api.frames import Frame


class Subscriber(Protocol):
    """What the fan-out needs of a client: its filter and a non-blocking hand-over, which says
    whether it wrote the event to the client's socket itself (see ClientStream.offer)."""

    event_filter: EventFilter

    def offer(self, frame: Frame, now: float) -> bool: ...


class _TypeIndex:
    __slots__ = ("any_type", "exact", "patterns")

    def __init__(self) -> None:
        self.any_type: set[Subscriber] = set()
        self.exact: dict[str, set[Subscriber]] = {}
        self.patterns: dict[str, tuple[Callable[[str], bool], set[Subscriber]]] = {}

    def add(self, subscriber: Subscriber, pattern: str | None) -> None:
        if pattern is None:
            self.any_type.add(subscriber)
        elif "*" in pattern or ">" in pattern:
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (compile_pattern(pattern), set())
            entry[1].add(subscriber)
        else:
            self.exact.setdefault(pattern, set()).add(subscriber)

    def remove(self, subscriber: Subscriber, pattern: str | None) -> None:
        if pattern is None:
            self.any_type.discard(subscriber)
        elif pattern in self.patterns:
            members = self.patterns[pattern][1]
            members.discard(subscriber)
            if not members:
                del self.patterns[pattern]
        elif pattern in self.exact:
            members = self.exact[pattern]
            members.discard(subscriber)
            if not members:
                del self.exact[pattern]

    def empty(self) -> bool:
        return not (self.any_type or self.exact or self.patterns)

    def collect(self, type_: str, out: list[set[Subscriber]]) -> None:
        """Append the non-empty member sets that take `type_`."""
        if self.any_type:
            out.append(self.any_type)
        members = self.exact.get(type_)
        if members:
            out.append(members)
        for matches, subscribers in self.patterns.values():
            if matches(type_):
                out.append(subscribers)


class SubscriptionIndex:
    """Live subscribers by project, aggregate and type; `match` costs O(matching subscribers)."""

    def __init__(self) -> None:
        # project -> aggregate (None: any aggregate) -> type index
        self._projects: dict[str, dict[str | None, _TypeIndex]] = {}
        self._members: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, subscriber: object) -> bool:
        return subscriber in self._members

    @staticmethod
    def _keys(event_filter: EventFilter) -> list[tuple[str | None, str | None]]:
        aggregates: tuple[str | None, ...] = event_filter.aggregates or (None,)
        types: tuple[str | None, ...] = event_filter.types or (None,)
        return [(aggregate, type_) for aggregate in aggregates for type_ in types]

    def add(self, subscriber: Subscriber) -> None:
        """Index a subscriber (no-op if it already is)."""
        if subscriber in self._members:
            return
        self._members.add(subscriber)
        event_filter = subscriber.event_filter
        by_aggregate = self._projects.setdefault(event_filter.project, {})
        for aggregate, type_ in self._keys(event_filter):
            index = by_aggregate.get(aggregate)
            if index is None:
                index = by_aggregate[aggregate] = _TypeIndex()
            index.add(subscriber, type_)

    def remove(self, subscriber: Subscriber) -> None:
        """Forget a subscriber (no-op if it is not indexed: leaving twice is harmless)."""
        if subscriber not in self._members:
            return
        self._members.discard(subscriber)
        event_filter = subscriber.event_filter
        by_aggregate = self._projects.get(event_filter.project)
        if by_aggregate is None:
            return
        for aggregate, type_ in self._keys(event_filter):
            index = by_aggregate.get(aggregate)
            if index is not None:
                index.remove(subscriber, type_)
                if index.empty():
                    del by_aggregate[aggregate]
        if not by_aggregate:
            del self._projects[event_filter.project]

    def match(self, project: str, aggregate: str, type_: str) -> list[Subscriber]:
        """Subscribers whose filter takes this event, each once."""
        by_aggregate = self._projects.get(project)
        if by_aggregate is None:
            return []
        found: list[set[Subscriber]] = []
        anywhere = by_aggregate.get(None)
        if anywhere is not None:
            anywhere.collect(type_, found)
        here = by_aggregate.get(aggregate)
        if here is not None:
            here.collect(type_, found)
        if not found:
            return []
        if len(found) == 1:
            return list(found[0])  # one entry matched: a set, so no subscriber twice
        return list(set().union(*found))  # entries may share a subscriber (overlapping patterns)
