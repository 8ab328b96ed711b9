"""Finding the aggregates a service left unfinished, from the stream alone, when it starts.

A service that was killed mid-run must carry on (or fail) every aggregate it had in flight. The
stream already says which those are: the ones with a creation event and no terminal event. Only
those lifecycle event types are read, filtered by the server, across every project.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from nats.aio.client import Client as NATS

from runwire.contract.subjects import ROOT, parse_unchecked
from runwire.jetstream.event_store import STREAM_NAME
from runwire.jetstream.stream_reader import StreamReader


async def open_aggregates(
    nc: NATS, created_type: str, terminal_types: Iterable[str], *, stream: str = STREAM_NAME
) -> list[tuple[str, str]]:
    """(project, aggregate) of each aggregate created as `created_type` and not yet terminal, oldest first."""
    types = [created_type, *terminal_types]
    reader = StreamReader(nc, stream, [f"{ROOT}.*.*.{t}" for t in types], start_seq=1)
    open_: dict[tuple[str, str], None] = {}
    async with contextlib.aclosing(reader.batches()) as batches:
        async for batch in batches:
            for message in batch:
                subject = parse_unchecked(message.subject)
                key = (subject.project, subject.aggregate)
                if subject.type == created_type:
                    open_[key] = None
                else:
                    open_.pop(key, None)
    return list(open_)
