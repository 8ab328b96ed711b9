"""HTTP publish: `POST /v1/projects/{project}/events` with one CloudEvent or a JSON array of them.

For producers that cannot speak NATS, in either CloudEvents HTTP mode (see http_binding). Events
are validated whole before any is stored, stored in the given order, and deduplicated by their
identity (project, source, id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from runwire.contract.cursor import format_cursor
from runwire.contract.envelope import CloudEvent, EnvelopeError
from runwire.jetstream.event_store import StoreError
from runwire.web.auth import project_guard
from runwire.web.openapi import also_answers
from runwire.web.problems import ProblemError, invalid_field
from runwire_stream_api.event_size import check_event_sizes
from runwire_stream_api.http_binding import BINARY_PREFIX, UnsupportedFormat, read_events
from runwire_stream_api.openapi_docs import PublishBody
from runwire_stream_api.runtime import Runtime

MAX_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_EVENTS: Final = 1000


class Accepted(msgspec.Struct):
    """Where one published event was stored; `duplicate` when its (project, source, id) already was."""

    id: str
    cursor: str
    duplicate: bool


class PublishResult(msgspec.Struct):
    events: list[Accepted]


_encoder = msgspec.json.Encoder()


def _stamp(event: CloudEvent, now: datetime) -> CloudEvent:
    """Fill in `time` when the producer left it out: the publish time that latency is measured from."""
    if event.time is not None:
        return event
    return msgspec.structs.replace(event, time=now)


@post(
    "/v1/projects/{project:str}/events",
    guards=[project_guard],
    summary="Publish events",
    description=(
        "Body: one CloudEvent (runwire envelope, structured mode) or a JSON array of up to 1000; or one "
        "event in CloudEvents HTTP binary mode (`ce-*` headers, the data as body). Every event's "
        "`project` must be the path's project. Answers 202 with each event's cursor; an event whose "
        "(project, source, id) was already stored within the dedup window is reported as `duplicate` "
        "and stored once. Other CloudEvents formats (e.g. `application/cloudevents+xml`): 415."
    ),
    tags=["publish"],
    status_code=202,
    request_max_body_size=MAX_BODY_BYTES,
    responses={202: ResponseSpec(PublishResult, description="Stored", generate_examples=False)},
    operation_class=PublishBody,
    opt=also_answers(415, 502, 503),
)
async def publish_events(
    project: FromPath[str], state: State, request: Request[None, None, State]
) -> Response[bytes]:
    runtime: Runtime = state.runtime
    body = await request.body()
    try:
        events, was_array = read_events(request.headers, body)
    except UnsupportedFormat as exc:
        runtime.metrics.publish_rejected.labels("invalid").inc()
        raise ProblemError(415, str(exc), kind="unsupported-media-type", field="Content-Type") from exc
    except EnvelopeError as exc:
        runtime.metrics.publish_rejected.labels("invalid").inc()
        source = "header" if exc.field.startswith(BINARY_PREFIX) else "body"
        raise invalid_field(exc.pointer, exc.message, source=source) from exc
    if len(events) > MAX_EVENTS:
        raise invalid_field(
            "body", f"at most {MAX_EVENTS} events per request, got {len(events)}", source="body"
        )
    for index, event in enumerate(events):
        if event.project != project:
            runtime.metrics.publish_rejected.labels("project").inc()
            pointer = f"[{index}].project" if was_array else "project"
            raise invalid_field(
                pointer, f"is {event.project!r} but the path's project is {project!r}", source="body"
            )
    now = datetime.now(UTC)
    stamped = [_stamp(event, now) for event in events]
    check_event_sizes(len(body), stamped, runtime.nc.max_payload, was_array)
    try:
        results = await runtime.store.publish_many(stamped)
    except StoreError as exc:
        runtime.metrics.publish_rejected.labels("store").inc()
        raise ProblemError(
            503 if exc.retryable else 502,
            f"the event store did not take the events: {exc}",
            kind="store-unavailable",
            title="Event store unavailable",
            headers={"Retry-After": "1"} if exc.retryable else None,
        ) from exc
    accepted = [
        Accepted(id=event.id, cursor=format_cursor(result.last_seq), duplicate=result.duplicate)
        for event, result in zip(stamped, results, strict=True)
    ]
    duplicates = sum(1 for a in accepted if a.duplicate)
    runtime.metrics.published.labels("stored").inc(len(accepted) - duplicates)
    if duplicates:
        runtime.metrics.published.labels("duplicate").inc(duplicates)
    return Response(_encoder.encode(PublishResult(accepted)), status_code=202, media_type="application/json")
