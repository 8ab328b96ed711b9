"""Polling: `GET /v1/projects/{project}/events`, with `limit` and an optional long-poll `wait`.

A poll is a short-lived client stream: it reads from its cursor, and when nothing is there and
`wait` allows, it joins the live fan-out until the first matching event or the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from litestar import Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from runwire.contract.cursor import format_cursor
from runwire.web.auth import project_guard
from runwire.web.openapi import also_answers
from runwire_stream_api.client_stream import IDLE, ClientStream, Reset
from runwire_stream_api.frames import Frame
from runwire_stream_api.openapi_docs import PollPage
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.stream_request import StreamRequest, provide_stream_request

MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 60.0


async def collect(client: ClientStream, limit: int, wait: float) -> tuple[list[Frame], Reset | None]:
    """Up to `limit` events after the client's position, waiting up to `wait` seconds for the first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    events: list[Frame] = []
    reset: Reset | None = None
    async with contextlib.aclosing(client.items(idle=True, limit=limit)) as items:
        async for item in items:
            if isinstance(item, list):
                events.extend(item)
            elif isinstance(item, Reset):
                reset = item
            elif item is IDLE:
                remaining = deadline - loop.time()
                if events or remaining <= 0:
                    break
                await client.wait(remaining)
            else:
                break
    return events, reset


def encode_page(events: list[Frame], next_cursor: int, reset: Reset | None) -> bytes:
    """`{"events": [{"id", "event"}...], "next": cursor}` from the shared per-event encodings."""
    body = (
        b'{"events":['
        + b",".join([e.item for e in events])
        + b'],"next":"%s"' % format_cursor(next_cursor).encode()
    )
    if reset is not None:
        body += b',"reset":{"earliest":"%d","requested":"%d"}' % (reset.earliest, reset.requested)
    return body + b"}"


@get(
    "/v1/projects/{project:str}/events",
    guards=[project_guard],
    dependencies={"stream_request": Provide(provide_stream_request)},
    summary="Poll events",
    description=(
        'Returns up to `limit` events after the cursor as `{"events": [{"id", "event"}], "next"}`; '
        "pass `next` as `last_event_id` on the next poll. With `wait`, waits up to that many seconds "
        "for the first event (long-poll). `reset` appears when events after the cursor were removed."
    ),
    tags=["streams"],
    responses={200: ResponseSpec(PollPage, description="A page of events", generate_examples=False)},
    opt=also_answers(503),
)
async def poll_events(
    state: State,
    stream_request: NamedDependency[StreamRequest],
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="At most this many events")] = 100,
    wait: Annotated[
        float,
        QueryParameter(ge=0, le=MAX_WAIT_SECONDS, description="Long-poll: seconds to wait for a first event"),
    ] = 0.0,
) -> Response[bytes]:
    runtime: Runtime = state.runtime
    client = runtime.open_client(
        stream_request.event_filter, stream_request.after, "poll", snapshot=stream_request.snapshot
    )
    try:
        events, reset = await collect(client, limit, wait)
    finally:
        runtime.release(client)
    if client.delivery is not None and events:
        client.delivery.written(events, time.time_ns())
    return Response(encode_page(events, client.position, reset), media_type="application/json")
