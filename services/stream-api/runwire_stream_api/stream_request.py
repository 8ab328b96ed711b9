"""The query parameters every stream transport shares: the filter and where to start."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter, QueryParameter

from runwire.contract.filters import EventFilter, FilterError, parse_filter
from runwire.web.problems import invalid_field
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.start_position import resolve_start


class StreamRequest(msgspec.Struct, frozen=True):
    """A validated stream request: deliver events matching `event_filter` after sequence `after`
    (first, with `snapshot`, the last stored event of each matching aggregate)."""

    event_filter: EventFilter
    after: int
    snapshot: bool = False


FromParam = Annotated[
    str,
    QueryParameter(
        name="from",
        description=(
            "Where to start without a cursor: `earliest` (replay all), `latest` (live only) or "
            "`snapshot` (the last stored event of each matching aggregate, in stream order, then live)"
        ),
    ),
]
TypesParam = Annotated[
    str | None,
    QueryParameter(description="Comma list of type patterns, NATS wildcards: `workflow.>`, `agent.step.*`"),
]
AggregatesParam = Annotated[
    str | None, QueryParameter(description="Comma list of aggregate ids (run/job ids)")
]
CursorParam = Annotated[
    str | None, QueryParameter(description="Resume after this cursor (the `id` of the last event received)")
]
SinceParam = Annotated[
    str | None, QueryParameter(description="Start at the first event stored at or after this RFC 3339 time")
]
HeaderCursorParam = Annotated[
    str | None,
    HeaderParameter(name="Last-Event-ID", description="Resume cursor; wins over every query parameter"),
]


async def build_stream_request(
    runtime: Runtime,
    project: str,
    *,
    types: str | None,
    aggregates: str | None,
    last_event_id: str | None,
    since: str | None,
    from_: str,
    header_cursor: str | None,
) -> StreamRequest:
    """Validate every stream parameter (400 naming it) and resolve the start position."""
    try:
        event_filter = parse_filter(project, types, aggregates)
    except FilterError as exc:
        raise invalid_field(exc.field, exc.message) from exc
    if from_ not in ("earliest", "latest", "snapshot"):
        raise invalid_field("from", f"must be `earliest`, `latest` or `snapshot`, got {from_!r}")
    start_from: Literal["earliest", "latest", "snapshot"] = (
        "earliest" if from_ == "earliest" else "snapshot" if from_ == "snapshot" else "latest"
    )
    start = await resolve_start(
        runtime.store,
        header_cursor=header_cursor,
        last_event_id=last_event_id,
        since=since,
        from_=start_from,
    )
    # A cursor or a time wins over `from` (an EventSource reconnect must not get the snapshot again).
    snapshot = start_from == "snapshot" and header_cursor is None and last_event_id is None and since is None
    return StreamRequest(event_filter, start.after, snapshot)


async def provide_stream_request(
    state: State,
    project: FromPath[str],
    types: TypesParam = None,
    aggregates: AggregatesParam = None,
    last_event_id: CursorParam = None,
    since: SinceParam = None,
    from_: FromParam = "latest",
    last_event_id_header: HeaderCursorParam = None,
) -> StreamRequest:
    """Litestar dependency: the validated StreamRequest of an HTTP stream or poll."""
    return await build_stream_request(
        state.runtime,
        project,
        types=types,
        aggregates=aggregates,
        last_event_id=last_event_id,
        since=since,
        from_=from_,
        header_cursor=last_event_id_header,
    )
