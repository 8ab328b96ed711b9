"""An SSE client's connection once taken out of the HTTP server (runwire.web.response_socket).

After the response's head went out through ASGI, the connection is detached and the ASGI call
returns, so the server's and Litestar's per-request objects are freed while the stream lasts
(benchmarks/connections.py: about 12 KiB less per open stream). From then on the fan-out writes
events and heartbeats straight to the socket while the client is idle and live
(client_stream.DirectWriter), and one lean task writes what needs waiting: catch-up reads,
events queued while the socket was slow, `reset` and `close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from runwire.web.response_socket import ResponseSocket, body_chunk
from runwire_stream_api.client_stream import CLOSE, ClientStream
from runwire_stream_api.frames import HEARTBEAT as HEARTBEAT_FRAME
from runwire_stream_api.frames import Frame
from runwire_stream_api.sse_forms import SSEForm, encode, item_bytes

if TYPE_CHECKING:
    from runwire_stream_api.runtime import Runtime


class SSEConnection(asyncio.Protocol):
    """The detached connection of one SSE client: its transport's events, direct writes, its task."""

    __slots__ = (
        "_chunked",
        "_client",
        "_closing",
        "_drained",
        "_end",
        "_form",
        "_heartbeat",
        "_lost",
        "_paused",
        "_runtime",
        "_socket",
        "_task",
        "_transport",
    )

    def __init__(self, runtime: Runtime, client: ClientStream, socket: ResponseSocket, form: SSEForm) -> None:
        self._runtime = runtime
        self._client = client
        self._socket: ResponseSocket | None = socket
        self._form = form
        self._chunked = socket.chunked
        self._heartbeat = body_chunk(HEARTBEAT_FRAME, self._chunked)
        self._end = socket.end
        self._paused = False
        self._lost = False
        self._closing = False
        self._drained: asyncio.Future[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Take the connection over and stream the client's items from a task of its own."""
        self._transport = self._socket.detach(self)  # type: ignore[union-attr]
        self._socket = None  # it holds the server's per-request objects, which may go now
        self._client.write_directly(self)
        self._task = asyncio.get_running_loop().create_task(self._stream(), name="runwire-sse")

    # ------------------------------------------------------------------ asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        """An SSE client has nothing more to say; whatever it sends is ignored."""

    def eof_received(self) -> bool:
        return False  # the client half-closed: close the transport too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.resume_writing()
        self._client.close()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # ------------------------------------------------------------------ client_stream.DirectWriter

    @property
    def writable(self) -> bool:
        return not self._paused and not self._lost and not self._closing

    def write_frame(self, frame: Frame) -> None:
        if self._form is SSEForm.TYPED_JSON:
            self._transport.write(frame.sse_chunk if self._chunked else frame.sse)  # type: ignore[union-attr]
        else:
            self._transport.write(self._frame(encode(frame, self._form)))  # type: ignore[union-attr]

    def write_heartbeat(self) -> None:
        self._transport.write(self._heartbeat)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ the task

    def _frame(self, body: bytes) -> bytes:
        return body_chunk(body, self._chunked)

    async def _write(self, body: bytes) -> None:
        """Write one chunk, then wait while the client's socket is slow (bounded memory)."""
        self._transport.write(self._frame(body))  # type: ignore[union-attr]
        while self._paused and not self._lost:
            drained = self._drained = asyncio.get_running_loop().create_future()
            await drained

    async def _stream(self) -> None:
        client = self._client
        items = client.items()
        delivery = client.delivery
        form = self._form
        try:
            async for item in items:
                if self._lost:
                    break
                body = item_bytes(item, form)
                if body is None:
                    continue
                started = time.time_ns()
                await self._write(body)
                if isinstance(item, list) and delivery is not None:
                    delivery.written(item, started)
                elif item is CLOSE:
                    break
        finally:
            self._closing = True
            self._runtime.release(client)
            await asyncio.shield(items.aclose())
            transport = self._transport
            if transport is not None and not self._lost:
                with contextlib.suppress(OSError, RuntimeError):
                    transport.write(self._end)
                transport.close()
