"""SSE connections taken out of the HTTP server (runwire.web.response_socket, sse_connection.py):
the fan-out writes idle clients itself, framing stays HTTP-correct, and servers that do not offer
the response socket still stream everything over ASGI `send`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import Litestar, asgi
from litestar.types import HTTPResponseStartEvent, Receive, Scope, Send

from runwire.web.response_socket import response_socket_of
from runwire_stream_api.client_stream import ClientStream, Phase
from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.support.stream_clients import events_of, sse


def only_client(api: StreamAPI) -> ClientStream:
    (client,) = api.runtime.clients
    return client


async def test_an_idle_live_client_sleeps_while_the_fan_out_writes_its_events(
    api: StreamAPI, project: str
) -> None:
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        client = only_client(api)
        await eventually(lambda: client.phase is Phase.LIVE and client._waiter is not None, timeout=2)
        sleeping = client._waiter
        cursors = await api.publish(project, [event(project, n=i) for i in range(5)])
        got = await reader.read_events(5)
        assert [m.id for m in got] == cursors
        assert client._waiter is sleeping and sleeping is not None and not sleeping.done()


async def test_over_asgi_send_a_stream_replays_goes_live_beats_and_closes(
    start_api: StartAPI, project: str
) -> None:
    api = await start_api(direct_writes=False)
    cursors = await api.publish(project, [event(project, n=i) for i in range(3)])
    async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
        await reader.read_events(3)
        cursors += await api.publish(project, [event(project, n=3)])
        messages = await reader.read_until(
            lambda ms: len(events_of(ms)) >= 4 and any(m.comment == "heartbeat" for m in ms), timeout=5
        )
        api.runtime.begin_shutdown()
        messages = await reader.read_to_end(timeout=5)
    assert [m.id for m in events_of(messages)] == cursors
    assert messages[-1].event == "close"


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked HTTP body, checked against its size line."""
    size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
    chunk = await reader.readexactly(size + 2)
    assert chunk.endswith(b"\r\n")
    return chunk[:-2]


async def test_events_written_by_the_fan_out_are_exact_http_chunks_and_the_stream_ends_with_the_last(
    api: StreamAPI, project: str
) -> None:
    host, port = api.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    path = f"/v1/projects/{project}/events/stream"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {api.token()}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert await read_chunk(reader) == b"retry: 2000\n: connected\n\n"
    client = only_client(api)
    await eventually(lambda: client.phase is Phase.LIVE and client._waiter is not None, timeout=2)
    cursors = await api.publish(project, [event(project, "one.event", n=i) for i in range(3)])
    for cursor in cursors:
        chunk = await asyncio.wait_for(read_chunk(reader), 5)
        assert chunk.startswith(b"id: %s\nevent: one.event\ndata: {" % cursor.encode())
        assert chunk.endswith(b"}\n\n")
    api.runtime.begin_shutdown()
    close = await asyncio.wait_for(read_chunk(reader), 5)
    assert close.startswith(b"event: close\n")
    assert await asyncio.wait_for(reader.read(), 5) == b"0\r\n\r\n"  # the last chunk, then EOF
    writer.close()


async def test_a_detached_connection_lost_mid_stream_frees_its_client(api: StreamAPI, project: str) -> None:
    tasks_before = asyncio.all_tasks()
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        await eventually(lambda: len(api.runtime.clients) == 1, timeout=2)
    await eventually(lambda: not api.runtime.clients and not len(api.runtime.hub.index), timeout=2)
    await eventually(lambda: asyncio.all_tasks() <= tasks_before, timeout=2)


@asgi("/detach-early", copy_scope=False)
async def detach_before_the_head(scope: Scope, receive: Receive, send: Send) -> None:
    socket = response_socket_of(scope)
    assert socket is not None
    try:
        socket.detach(asyncio.Protocol())
        answer = b"detached"
    except RuntimeError as refused:
        answer = str(refused).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", str(len(answer)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": answer, "more_body": False})


async def test_a_response_that_has_not_started_cannot_be_detached() -> None:
    app = Litestar(route_handlers=[detach_before_the_head])
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/detach-early")
    assert response.status_code == 200
    assert response.text == "only a started, unfinished response on a live connection can be detached"


def test_response_socket_of_a_scope_without_the_extension_is_none() -> None:
    scope: dict[str, Any] = {"type": "http", "extensions": {"http.response.trailers": {}}}
    assert response_socket_of(scope) is None
    assert response_socket_of({"type": "http"}) is None


async def test_the_heartbeat_ticker_lets_go_of_a_stream_that_ended(api: StreamAPI, project: str) -> None:
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: sum(m.comment == "heartbeat" for m in ms) >= 2, timeout=5)
        assert api.runtime.heartbeats.watched() == 1
    await eventually(lambda: api.runtime.heartbeats.watched() == 0, timeout=3)
