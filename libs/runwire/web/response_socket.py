"""A streaming response's connection, taken out of the HTTP server once the response has started.

A fan-out that wakes one task per client per event pays for the wake-up, the ASGI `send` path and
the middleware around it, several times the ~2 µs of the socket write itself; and a long-lived
response held by the ASGI call keeps the server's and the framework's per-request objects (about
12 KiB) for as long as it streams. uvicorn's HTTP protocol (subclassed here as `HttpProtocol`) puts
a `ResponseSocket` into each request's `scope["extensions"]["runwire.response_socket"]`: after an
app has sent a streaming response's head (and any first body chunk) through ASGI, it may `detach`
the connection, return from the ASGI call at once, and write the body's further chunks to the
transport itself, like Go's `http.Hijacker`. Servers without it leave the extension out, and apps
keep streaming over ASGI `send`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

EXTENSION: Final = "runwire.response_socket"


def body_chunk(body: bytes, chunked: bool) -> bytes:
    """`body` as written after `detach`: one chunk of chunked transfer encoding, or raw."""
    return b"%x\r\n%s\r\n" % (len(body), body) if chunked else body


class ResponseSocket:
    """The connection under one HTTP response, and the way to take it over (`detach`)."""

    __slots__ = ("_cycle", "_owner")

    def __init__(self, cycle: RequestResponseCycle, owner: HttpProtocol) -> None:
        self._cycle = cycle
        self._owner = owner

    @property
    def chunked(self) -> bool:
        """Whether body chunks go out with chunked transfer encoding (HTTP/1.1) or raw (HTTP/1.0)."""
        return bool(self._cycle.chunked_encoding)

    @property
    def lost(self) -> bool:
        return self._cycle.disconnected or self._cycle.transport.is_closing()

    @property
    def end(self) -> bytes:
        """What ends the body after the last chunk (chunked encoding's empty chunk)."""
        return b"0\r\n\r\n" if self._cycle.chunked_encoding else b""

    def detach(self, protocol: asyncio.BaseProtocol) -> asyncio.Transport:
        """Take the connection out of the server, whose ASGI call should then return: the caller
        writes the rest of the body (each piece as `body_chunk`, then `end`), closes the transport, and
        `protocol` receives the connection's events from now on (loss, flow control).

        Call only after the response's head was sent and while no ASGI send is pending. The server
        no longer counts the connection (a graceful stop does not wait for it): the caller drains it.
        """
        cycle = self._cycle
        if not cycle.response_started or cycle.response_complete or cycle.disconnected:
            raise RuntimeError("only a started, unfinished response on a live connection can be detached")
        cycle.response_complete = True  # the ASGI call may now return: uvicorn neither closes nor reuses
        owner = self._owner
        owner.connections.discard(owner)
        transport = cycle.transport
        transport.set_protocol(protocol)
        if cycle.flow.write_paused and isinstance(protocol, asyncio.Protocol):
            protocol.pause_writing()
        return transport


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering each request's `ResponseSocket` in the ASGI scope."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and "path" in self.scope:
            extensions: dict[str, object] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
            extensions[EXTENSION] = ResponseSocket(cycle, self)


def response_socket_of(scope: Any) -> ResponseSocket | None:
    """The request's `ResponseSocket`, when the server offers one."""
    extensions = scope.get("extensions")
    if not extensions:
        return None
    found = extensions.get(EXTENSION)
    return found if isinstance(found, ResponseSocket) else None
