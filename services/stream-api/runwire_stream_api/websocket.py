"""WebSocket streams: `GET /v1/projects/{project}/events/ws`, one text message per event.

Each message is `{"id": cursor, "event": {CloudEvent}}`; the same query parameters as SSE. Requests
that fail auth or validation are refused before the upgrade with a real HTTP status and a
problem+json body (ASGI websocket denial response), or, where the server lacks that, a close code
4000 + status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery

from runwire.jetstream.availability import STORE_UNAVAILABLE
from runwire.web.auth import authenticate, authorize
from runwire.web.problems import ProblemError
from runwire.web.store_errors import store_unavailable
from runwire.web.upgrade_refusal import refuse_upgrade
from runwire_stream_api.client_stream import CLOSE, HEARTBEAT, ClientStream, Reset
from runwire_stream_api.frames import ws_reset
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.stream_request import build_stream_request

GOING_AWAY = 1001


@websocket("/v1/projects/{project:str}/events/ws")
async def stream_ws(
    socket: WebSocket[Any, Any, Any],
    project: FromPath[str],
    types: FromQuery[str | None] = None,
    aggregates: FromQuery[str | None] = None,
    last_event_id: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
) -> None:
    """Stream events over a WebSocket; auth by bearer header or `access_token`."""
    runtime: Runtime = socket.app.state.runtime
    query = socket.query_params
    try:
        principal = authenticate(socket.app.state.auth_secret, socket.headers, query)
        authorize(principal, project)
        request = await build_stream_request(
            runtime,
            project,
            types=types,
            aggregates=aggregates,
            last_event_id=last_event_id,
            since=since,
            from_=query.get("from", "latest"),
            header_cursor=socket.headers.get("last-event-id"),
        )
        client = runtime.open_client(request.event_filter, request.after, "ws", snapshot=request.snapshot)
    except ProblemError as exc:
        await refuse_upgrade(socket.scope, socket.receive, socket.send, exc)
        return
    except STORE_UNAVAILABLE as exc:
        await refuse_upgrade(socket.scope, socket.receive, socket.send, store_unavailable(exc))
        return
    await _serve(socket, runtime, client)


async def _serve(socket: WebSocket[Any, Any, Any], runtime: Runtime, client: ClientStream) -> None:
    items = client.items()
    listener: asyncio.Task[None] | None = None
    send = socket.send
    try:
        await socket.accept()
        listener = asyncio.create_task(_listen(socket, client))
        async for item in items:
            if isinstance(item, list):
                started = time.time_ns()
                for frame in item:
                    await send({"type": "websocket.send", "bytes": None, "text": frame.ws})
                if client.delivery is not None:
                    client.delivery.written(item, started)
            elif isinstance(item, Reset):
                await send(
                    {"type": "websocket.send", "bytes": None, "text": ws_reset(item.earliest, item.requested)}
                )
            elif item is CLOSE:
                await socket.close(GOING_AWAY, "server shutting down; reconnect with last_event_id")
                return
            elif item is HEARTBEAT:
                continue  # the server's WebSocket pings keep the connection alive
    except (WebSocketDisconnect, OSError):
        pass
    finally:
        runtime.release(client)
        if listener is not None:
            listener.cancel()
        await asyncio.shield(items.aclose())


async def _listen(socket: WebSocket[Any, Any, Any], client: ClientStream) -> None:
    """Read (and ignore) client messages until it disconnects, then end its stream."""
    with contextlib.suppress(Exception):
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
    client.close()
