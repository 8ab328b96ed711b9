"""Where a stream starts: Last-Event-ID header, last_event_id, since, or from=earliest|latest|snapshot.

Resolved against the stream's bounds before the response starts, so a bad or future cursor is a
400 naming the parameter, not a broken stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, NamedTuple

import msgspec

from runwire.contract.cursor import CursorError, parse_cursor
from runwire.jetstream.event_store import EventStore
from runwire.web.problems import invalid_field

_aware = msgspec.json.Decoder(Annotated[datetime, msgspec.Meta(tz=True)])


class StartPosition(NamedTuple):
    """Deliver events after stream sequence `after`."""

    after: int


def parse_since(value: str) -> datetime:
    try:
        when: datetime = _aware.decode(msgspec.json.encode(value.strip()))
    except msgspec.ValidationError as exc:
        raise invalid_field(
            "since", "must be an RFC 3339 time with an offset, e.g. 2026-11-21T22:48:16Z"
        ) from exc
    return when


async def resolve_start(
    store: EventStore,
    *,
    header_cursor: str | None,
    last_event_id: str | None,
    since: str | None,
    from_: Literal["earliest", "latest", "snapshot"],
) -> StartPosition:
    """The sequence to deliver after. The header wins (an EventSource reconnect), then
    last_event_id, then since, then from (`snapshot` starts where `latest` does; the client reads
    the snapshot first and may move its position up to the snapshot's boundary)."""
    if header_cursor is not None or last_event_id is not None:
        field, source = (
            ("Last-Event-ID", "header") if header_cursor is not None else ("last_event_id", "query")
        )
        raw = header_cursor if header_cursor is not None else last_event_id
        assert raw is not None
        try:
            seq = parse_cursor(raw)
        except CursorError as exc:
            raise invalid_field(field, str(exc), source=source) from exc
        bounds = await store.bounds()
        if seq > bounds.last_seq:
            raise invalid_field(
                field,
                f"cursor {raw} is past the head of the stream (last cursor is {bounds.last_seq})",
                source=source,
            )
        return StartPosition(seq)
    if since is not None:
        when = parse_since(since)
        found = await store.seq_at_time(when)
        if found is None:
            return StartPosition((await store.bounds()).last_seq)
        return StartPosition(found - 1)
    bounds = await store.bounds()
    if from_ == "earliest":
        return StartPosition(bounds.first_seq - 1 if bounds.first_seq > 0 else 0)
    return StartPosition(bounds.last_seq)
