"""Domain events: typed payloads whose msgspec tag is the CloudEvents `type`, and their codec.

Contract, not kit: a service's domain package states its events with these, and another service
reads them from the stream with the same codec, without importing any I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from runwire.contract.envelope import CloudEvent, new_event


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """A domain event: its msgspec tag is the CloudEvents `type`, `at` the CloudEvents `time`."""

    at: datetime


E = TypeVar("E", bound=DomainEvent)
S = TypeVar("S")


def fold(state: S, events: Iterable[E], evolve: Callable[[S, E], S]) -> S:
    """The state after `events`: the one fold of the domain services (loads, decisions, tests)."""
    for event in events:
        state = evolve(state, event)
    return state


def event_type(event: DomainEvent) -> str:
    """The CloudEvents type of a domain event (its struct tag)."""
    return str(type(event).__struct_config__.tag)


class EventCodec(Generic[E]):
    """Maps one service's domain events to CloudEvents and back (unknown types decode to None)."""

    def __init__(self, union: Any, source: str) -> None:
        self._union = union
        self.source = source
        members = getattr(union, "__args__", (union,))
        self.types: frozenset[str] = frozenset(str(m.__struct_config__.tag) for m in members)

    def encode(self, event: E, *, project: str, aggregate: str, id: str) -> CloudEvent:
        """The CloudEvent that stores `event` on its aggregate."""
        data = msgspec.to_builtins(event)
        del data["type"], data["at"]
        return new_event(
            type=event_type(event),
            project=project,
            source=self.source,
            subject=aggregate,
            data=data,
            id=id,
            time=event.at,
        )

    def decode(self, event: CloudEvent) -> E | None:
        """The domain event a CloudEvent carries, or None when it is not one of this codec's types."""
        if event.type not in self.types or event.time is None:
            return None
        data = event.data if isinstance(event.data, dict) else {}
        decoded: E = msgspec.convert({**data, "type": event.type, "at": event.time}, self._union)
        return decoded
