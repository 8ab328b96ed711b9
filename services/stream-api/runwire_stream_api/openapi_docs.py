"""What the stream API's OpenAPI document needs beyond what Litestar generates from its routes.

The publish body (its handler reads the bytes itself), the polling page (encoded by hand), the
CloudEvent schema (the envelope's published JSON Schema, not a second derivation), and the
WebSocket endpoint, which OpenAPI cannot express: it is documented as a GET answered 101.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from runwire.contract.envelope import CloudEvent, json_schema
from runwire.web.openapi import COMPONENT_REF, complete_openapi, lift_json_schema, problem_responses

SSE_PATH: Final = "/v1/projects/{project}/events/stream"
WS_PATH: Final = "/v1/projects/{project}/events/ws"
MAX_EVENTS_PER_PUBLISH: Final = 1000
CLOUDEVENTS_JSON: Final = "application/cloudevents+json"
CLOUDEVENTS_BATCH_JSON: Final = "application/cloudevents-batch+json"

SSE_FRAMES: Final = """An endless `text/event-stream`. Frames:

- on connect: `retry: 2000` and the comment `: connected`;
- each event: `id: <cursor>`, `event: <CloudEvent type>`, `data: <the CloudEvent JSON>` (one line);
- `: heartbeat` (a comment) when idle, every `RUNWIRE_HEARTBEAT_SECONDS`;
- `event: reset` with `data: {"earliest": cursor, "requested": cursor}` when events after the
  requested cursor were removed by retention (the stream goes on from `earliest`);
- `event: close` with `data: {"reason": ...}` when the server stops: reconnect with `Last-Event-ID`.

With `event_names=message` every event is named `message`; with `format=html` its `data:` is one
line of escaped HTML (`<div class="runwire-event" data-cursor="42">` with the type, time, subject
and a data summary), for htmx. With `from=snapshot` the first events are the last stored event of
each matching aggregate, then live.

Resume by reconnecting with the last `id:` as `Last-Event-ID` (EventSource does this itself)."""

WS_DESCRIPTION: Final = """A WebSocket (RFC 6455) upgrade of this GET; OpenAPI cannot describe the
messages, so they are described here. The same query parameters as the SSE endpoint; the token as
`Authorization: Bearer` or, from browsers, `access_token`.

Server messages are JSON text frames:

- an event: `{"id": "<cursor>", "event": {CloudEvent}}`;
- a retention gap: `{"reset": {"earliest": "<cursor>", "requested": "<cursor>"}}`.

Messages the client sends are ignored. The server pings to keep the connection alive. On
shutdown it closes with code 1001: reconnect with `last_event_id` set to the last `id` received.
A request refused before the upgrade (bad parameter, token, project, or a full instance) is
answered with its HTTP status and a problem+json body, or, where the server cannot send one,
closed with code 4000 + that status."""


class PolledEvent(msgspec.Struct):
    """One polled event and its cursor."""

    id: str
    event: CloudEvent


class PageReset(msgspec.Struct):
    """Events after `requested` were removed by retention; the page starts at `earliest`."""

    earliest: str
    requested: str


class PollPage(msgspec.Struct, omit_defaults=True):
    """A page of polled events; pass `next` as `last_event_id` to get the following one."""

    events: list[PolledEvent]
    next: str
    reset: PageReset | None = None


def _event_ref() -> Reference:
    return Reference(ref=COMPONENT_REF + CloudEvent.__name__)


@dataclass
class PublishBody(Operation):
    """The publish body, which the handler decodes itself: one CloudEvent or an array of them."""

    def __post_init__(self) -> None:
        batch = Schema(
            type=OpenAPIType.ARRAY, items=_event_ref(), min_items=1, max_items=MAX_EVENTS_PER_PUBLISH
        )
        self.request_body = RequestBody(
            required=True,
            description=(
                f"One CloudEvent (structured mode) or an array of 1 to {MAX_EVENTS_PER_PUBLISH}; each "
                "event's `project` must be the path's project"
            ),
            content={
                "application/json": OpenAPIMediaType(schema=Schema(one_of=[_event_ref(), batch])),
                CLOUDEVENTS_JSON: OpenAPIMediaType(schema=_event_ref()),
                CLOUDEVENTS_BATCH_JSON: OpenAPIMediaType(schema=batch),
            },
        )


def _websocket_item(sse: Operation) -> PathItem:
    """The WebSocket endpoint: the SSE endpoint's parameters (plus `access_token`, less the SSE
    forms), answered 101."""
    sse_only = {"event_names", "format"}
    parameters = [p for p in sse.parameters or [] if not (isinstance(p, Parameter) and p.name in sse_only)]
    parameters.append(
        Parameter(
            name="access_token",
            param_in="query",
            schema=Schema(type=OpenAPIType.STRING),
            description="The bearer token, for clients that cannot set headers on an upgrade",
        )
    )
    operation = Operation(
        tags=["streams"],
        summary="Stream events (WebSocket)",
        description=WS_DESCRIPTION,
        operation_id="V1ProjectsEventsWsStreamWs",
        parameters=parameters,
        responses={
            "101": OpenAPIResponse(description="Switching Protocols: the WebSocket stream of events"),
            **problem_responses({400, 401, 403, 431, 503}),
        },
    )
    return PathItem(get=operation)


def document_stream_api(app: Litestar) -> None:
    """Complete the stream API's document: the CloudEvent schema, every error, the WebSocket."""
    openapi = complete_openapi(app, schemas=lift_json_schema(json_schema()))
    paths = openapi.paths or {}
    sse = paths[SSE_PATH].get
    if sse is None:
        raise RuntimeError(f"no GET {SSE_PATH} to document the WebSocket from")
    paths[WS_PATH] = _websocket_item(sse)
