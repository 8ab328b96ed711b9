"""Export: `GET /v1/projects/{project}/events/export`, a filter's stored events as JSON Lines.

The stream is the append-only log of a run; this endpoint hands it over as a file
(`application/x-ndjson`, one CloudEvent a line), streamed a stored batch at a time so an export
of millions of events holds no more than one read buffer. It never waits for new events: it ends
at `to`, or at the end of the stream when the request arrived.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Final

from litestar import get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from runwire.contract.cursor import CursorError, format_cursor, parse_cursor
from runwire.contract.filters import EventFilter
from runwire.jetstream.event_store import EventStore, StreamBounds
from runwire.web.auth import project_guard
from runwire.web.openapi import also_answers
from runwire.web.problems import ProblemError, invalid_field
from runwire_stream_api.frames import single_line_json
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.start_position import parse_since
from runwire_stream_api.stream_request import (
    AggregatesParam,
    CursorParam,
    HeaderCursorParam,
    SinceParam,
    TypesParam,
    build_stream_request,
)

NDJSON: Final = "application/x-ndjson"
EXPORT_BUFFER: Final = 4096
TO_HEADER: Final = "Runwire-Export-To"
EARLIEST_HEADER: Final = "Runwire-Export-Reset"

ExportFromParam = Annotated[
    str,
    QueryParameter(
        name="from",
        description="Where to start without a cursor or `since`: `earliest` (the default: the whole log) "
        "or `latest` (nothing stored yet: an empty export)",
    ),
]
ToParam = Annotated[
    str | None,
    QueryParameter(
        description="Where to end: a cursor (that event included) or an RFC 3339 time (events stored "
        "before it). Default: the last event stored when the request arrived; never past it."
    ),
]


async def resolve_end(store: EventStore, bounds: StreamBounds, to: str | None) -> int:
    """The last stream sequence the export covers: `to` as a cursor or time, capped at the head."""
    head = bounds.last_seq
    if to is None:
        return head
    text = to.strip()
    if text.isascii() and text.isdigit():
        try:
            return min(parse_cursor(text), head)
        except CursorError as exc:
            raise invalid_field("to", str(exc)) from exc
    try:
        when = parse_since(text)
    except ProblemError as exc:
        raise invalid_field(
            "to", "must be a cursor or an RFC 3339 time with an offset, e.g. 2026-11-21T22:48:16Z"
        ) from exc
    found = await store.seq_at_time(when)
    return head if found is None else min(found - 1, head)


async def export_lines(
    runtime: Runtime, event_filter: EventFilter, after: int, up_to: int
) -> AsyncIterator[bytes]:
    """One chunk per stored batch: each servable event's stored JSON on its own line."""
    if after >= up_to:
        return
    batches = runtime.store.read_batches(
        event_filter,
        after=after,
        up_to=up_to,
        max_buffered=EXPORT_BUFFER,
        with_headers=False,
        select=runtime.hub.verdicts.servable_of,  # junk is skipped, as every other read skips it
    )
    try:
        async for batch in batches:
            yield b"".join([single_line_json(message.data) + b"\n" for message in batch])
    finally:
        await batches.aclose()


@get(
    "/v1/projects/{project:str}/events/export",
    guards=[project_guard],
    summary="Export stored events (JSON Lines)",
    description=(
        "The stored events matching the filter, in stream order, as JSON Lines "
        "(`application/x-ndjson`): one CloudEvent JSON a line, the bytes every other read serves, "
        "streamed. Starts like a stream (`last_event_id`/`Last-Event-ID`, `since`, `from`; default "
        "`from=earliest`) and ends at `to` (a cursor, included, or a time, excluded) or at the end "
        "of the stream when the request arrived. Messages that are not valid events are skipped. "
        f"`{TO_HEADER}` names the last cursor the export covers: pass it as `last_event_id` to "
        f"export what came after. `{EARLIEST_HEADER}` (with the earliest cursor) says events after "
        "the requested cursor were removed by retention."
    ),
    tags=["streams"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type=NDJSON,
            description="One CloudEvent JSON per line",
            generate_examples=False,
            examples=[
                Example(value='{"specversion":"1.0","id":"...","type":"workflow.node.completed",...}\n')
            ],
        )
    },
    opt=also_answers(503),
)
async def export_events(
    state: State,
    project: FromPath[str],
    types: TypesParam = None,
    aggregates: AggregatesParam = None,
    last_event_id: CursorParam = None,
    since: SinceParam = None,
    from_: ExportFromParam = "earliest",
    to: ToParam = None,
    last_event_id_header: HeaderCursorParam = None,
) -> Stream:
    runtime: Runtime = state.runtime
    runtime.refuse_when_stopping()
    if from_ not in ("earliest", "latest"):
        raise invalid_field("from", f"must be `earliest` or `latest`, got {from_!r}")
    request = await build_stream_request(
        runtime,
        project,
        types=types,
        aggregates=aggregates,
        last_event_id=last_event_id,
        since=since,
        from_=from_,
        header_cursor=last_event_id_header,
    )
    bounds = await runtime.store.bounds()
    up_to = await resolve_end(runtime.store, bounds, to)
    after = request.after
    headers = {TO_HEADER: format_cursor(max(up_to, after)), "Cache-Control": "no-store"}
    if after < bounds.first_seq - 1:
        headers[EARLIEST_HEADER] = format_cursor(bounds.first_seq)
        after = bounds.first_seq - 1
    return Stream(
        export_lines(runtime, request.event_filter, after, up_to),
        media_type=NDJSON,
        headers=headers,
    )
