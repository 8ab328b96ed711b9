"""The bare fan-out reference of benchmarks/fanout.py: the least a server can do to fan JetStream out.

One ordered push consumer on `events.>`; each event becomes one SSE frame, written straight from
the consumer's callback to every open connection's socket. No auth, filters, index, cursors beyond
the stream sequence, heartbeats, metrics or ASGI: what is left is the cost of the NATS client and
the socket writes, so runwire's CPU per delivery can be read as a ratio to it, measured on the same
machine at the same moment. Started by fanout.py as `python benchmarks/bare_fanout.py PORT NATS_URL`.
"""

from __future__ import annotations

import asyncio
import sys

import nats
import uvloop
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n"
READY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
NO_STATS = b'{"latency": {"count": 0}}'
STATS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
    % (len(NO_STATS), NO_STATS)
)


class Connection(asyncio.Protocol):
    """One client: the request head is read once; then the socket only receives frames."""

    def __init__(self, clients: set[asyncio.Transport]) -> None:
        self.clients = clients
        self.transport: asyncio.Transport | None = None
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport in self.clients:
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            return
        path = self.head.split(b" ", 2)[1]
        if path.startswith(b"/readyz"):
            self.transport.write(READY)
            self.transport.close()
        elif path.startswith(b"/v1/stats"):
            self.transport.write(STATS)
            self.transport.close()
        else:
            self.transport.write(SSE_HEAD)
            self.clients.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.clients.discard(self.transport)


async def serve(port: int, nats_url: str) -> None:
    clients: set[asyncio.Transport] = set()
    nc = await nats.connect(nats_url)

    async def fan_out(msg: Msg) -> None:
        event_type = msg.subject.split(".", 3)[3]
        frame = b"id: %d\nevent: %s\ndata: %s\n\n" % (
            msg.metadata.sequence.stream,
            event_type.encode(),
            msg.data,
        )
        for transport in clients:
            transport.write(frame)

    await nc.jetstream().subscribe(
        "events.>", cb=fan_out, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(clients), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1]), sys.argv[2]))
