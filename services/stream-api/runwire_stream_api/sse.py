"""Server-Sent Events: `GET /v1/projects/{project}/events/stream`.

The response is a small ASGI app of its own rather than a generator: it owns the disconnect
listener and the cleanup, so a client that goes away frees its queue and any JetStream consumer
at once, and no generator is left suspended.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from litestar import get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.types import Receive, Scope, Send

from runwire.web.auth import project_guard
from runwire.web.openapi import also_answers
from runwire.web.response_socket import response_socket_of
from runwire_stream_api.client_stream import CLOSE, ClientStream
from runwire_stream_api.frames import SSE_PREAMBLE
from runwire_stream_api.openapi_docs import SSE_FRAMES
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.sse_connection import SSEConnection
from runwire_stream_api.sse_forms import EventNamesParam, FormatParam, SSEForm, item_bytes
from runwire_stream_api.stream_request import StreamRequest, provide_stream_request

SSE_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class SSEResponse:
    """Streams one client's items as SSE frames until it disconnects or the server stops.

    Over uvicorn (runwire.web.serve) the connection is detached after the head and the stream goes
    on in an `SSEConnection` (sse_connection.py); elsewhere it streams over ASGI `send`.
    """

    def __init__(self, runtime: Runtime, client: ClientStream, form: SSEForm = SSEForm.TYPED_JSON) -> None:
        self.runtime = runtime
        self.client = client
        self.form = form

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client
        socket = response_socket_of(scope)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body", "body": SSE_PREAMBLE, "more_body": True})
        except BaseException:
            self.runtime.release(client)
            raise
        if socket is None:
            await self._over_asgi(receive, send)
        elif socket.lost:
            self.runtime.release(client)
        else:
            SSEConnection(self.runtime, client, socket, self.form).start()

    async def _over_asgi(self, receive: Receive, send: Send) -> None:
        client = self.client
        listener = asyncio.create_task(self._listen(receive))
        items = client.items()
        delivery = client.delivery
        try:
            async for item in items:
                body = item_bytes(item, self.form)
                if body is None:
                    continue
                more = item is not CLOSE
                started = time.time_ns()
                await send({"type": "http.response.body", "body": body, "more_body": more})
                if not more:
                    return
                if delivery is not None and isinstance(item, list):
                    delivery.written(item, started)
            if not listener.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the socket is gone; the cleanup below is all that is left to do
        finally:
            self.runtime.release(client)
            listener.cancel()
            await asyncio.shield(items.aclose())

    async def _listen(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.client.close()
                return


@get(
    "/v1/projects/{project:str}/events/stream",
    guards=[project_guard],
    dependencies={"stream_request": Provide(provide_stream_request)},
    summary="Stream events (Server-Sent Events)",
    description=(
        "Each event is an SSE message: `id:` its cursor, `event:` its CloudEvent type, `data:` the "
        "CloudEvent JSON. A `: heartbeat` comment is sent when idle. `event: reset` says events after "
        "the requested cursor were removed by retention and names the earliest cursor; `event: close` "
        "says the server is stopping (reconnect with Last-Event-ID). `event_names=message` names "
        'every event `message` (EventSource `onmessage`, htmx `sse-swap="message"`); `format=html` '
        "sends an escaped HTML fragment of each event as its `data:` (for htmx)."
    ),
    tags=["streams"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type="text/event-stream",
            description=SSE_FRAMES,
            generate_examples=False,
            examples=[Example(value="id: 42\nevent: workflow.node.completed\ndata: {...}\n\n")],
        )
    },
    opt=also_answers(503),
    include_in_schema=True,
)
async def stream_sse(
    state: State,
    stream_request: NamedDependency[StreamRequest],
    event_names: EventNamesParam = "type",
    format_: FormatParam = "json",
) -> SSEResponse:
    runtime: Runtime = state.runtime
    form = SSEForm.of(event_names, format_)
    client = runtime.open_client(
        stream_request.event_filter, stream_request.after, "sse", snapshot=stream_request.snapshot
    )
    return SSEResponse(runtime, client, form)
