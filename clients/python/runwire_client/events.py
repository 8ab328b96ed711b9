"""The typed items a runwire client hands over: CloudEvents with their cursors, and retention resets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class CloudEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A runwire CloudEvent (1.0, JSON structured mode); unknown extension attributes are ignored
    here but kept in `StreamEvent.raw`, the bytes the server sent."""

    id: str
    source: str
    type: str
    project: str
    specversion: str = "1.0"
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    traceparent: str | None = None
    data: Any = None


class StreamEvent(msgspec.Struct, frozen=True):
    """One delivered event: its cursor (resume after it), the typed event and its exact JSON."""

    cursor: str
    event: CloudEvent
    raw: bytes


class Reset(msgspec.Struct, frozen=True):
    """Events after `requested` were removed by retention; delivery goes on from `earliest`."""

    earliest: str
    requested: str


StreamItem = StreamEvent | Reset


class Accepted(msgspec.Struct, frozen=True):
    """Where a published event was stored; `duplicate` when its (project, source, id) already was."""

    id: str
    cursor: str
    duplicate: bool = False


class _PublishAnswer(msgspec.Struct):
    events: list[Accepted]


class _PollEvent(msgspec.Struct):
    id: str
    event: msgspec.Raw


class PollPage(msgspec.Struct):
    """A polling page: used to pin the start of a `from=latest` stream to a cursor."""

    events: list[_PollEvent]
    next: str


_event = msgspec.json.Decoder(CloudEvent)
_reset = msgspec.json.Decoder(Reset)
_publish_answer = msgspec.json.Decoder(_PublishAnswer)
_poll_page = msgspec.json.Decoder(PollPage)


def decode_event(data: bytes) -> CloudEvent:
    return _event.decode(data)


def decode_reset(data: bytes) -> Reset:
    return _reset.decode(data)


def decode_accepted(body: bytes) -> list[Accepted]:
    return _publish_answer.decode(body).events


def decode_poll_page(body: bytes) -> list[StreamEvent]:
    """A page's events as StreamEvents (the pinning poll may return one that just arrived)."""
    page = _poll_page.decode(body)
    return [StreamEvent(item.id, decode_event(bytes(item.event)), bytes(item.event)) for item in page.events]


def poll_next(body: bytes) -> str:
    return _poll_page.decode(body).next
