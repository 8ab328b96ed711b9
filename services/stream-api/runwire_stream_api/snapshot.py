"""`from=snapshot`: the last stored event of each aggregate matching a filter, the state on connect.

JetStream's last-per-subject delivery gives the last message of each `events.<p>.<agg>.<type>`
subject (as of the moment the consumer is created), then possibly a few newer ones; keeping the
highest sequence per aggregate of that contiguous prefix gives the last event of each aggregate up
to its last sequence, which is the boundary the client then continues live from, exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import NamedTuple

from runwire.contract.filters import EventFilter
from runwire.contract.subjects import parse_unchecked
from runwire.jetstream.event_store import EventStore
from runwire.jetstream.stream_reader import StoredMessage
from runwire_stream_api.frames import Frame, stored_frames

SNAPSHOT_BUFFER = 1024


class Snapshot(NamedTuple):
    """One frame per aggregate in stream order; every matching event after `boundary` is newer."""

    frames: list[Frame]
    boundary: int


async def read_snapshot(
    store: EventStore, event_filter: EventFilter, keep: Callable[[StoredMessage], bool]
) -> Snapshot:
    """The last servable event of each matching aggregate, and the sequence they are the last up to."""
    last: dict[str, StoredMessage] = {}
    boundary = 0
    batches = store.read_batches(
        event_filter,
        last_per_subject=True,
        max_buffered=SNAPSHOT_BUFFER,
        with_headers=False,
        keep=keep,  # junk is never served, here as in every other read
    )
    async with contextlib.aclosing(batches):
        async for messages in batches:
            for message in messages:  # in stream order: a later one of an aggregate replaces it
                last[parse_unchecked(message.subject).aggregate] = message
            boundary = messages[-1].seq
    ordered = sorted(last.values(), key=lambda message: message.seq)
    return Snapshot(stored_frames(ordered), boundary)
