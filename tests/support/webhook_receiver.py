"""A real HTTP endpoint for webhook tests: an asyncio server on a free loopback port that records
every request and answers as the test tells it (a status, or no answer at all: a timeout)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

HANG = -1  # answer nothing until the client gives up


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test reads (`requests`) and steers (`answer`, called with the request's index)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[int, Received], int] = lambda index, request: 200
    delay: float = 0.0
    """Seconds to take before each answer (a slow receiver)."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(method, path, headers, body)
                index = len(self.requests)
                self.requests.append(request)
                status = self.answer(index, request)
                if status == HANG:
                    await asyncio.sleep(3600)
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(b"HTTP/1.1 %d X\r\ncontent-length: 2\r\n\r\nok" % status)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1 and a free port, answering 200 until told otherwise."""
    holder: list[Receiver] = []
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await holder[0]._serve(reader, writer)
        finally:
            handlers.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    holder.append(Receiver(url=f"http://127.0.0.1:{port}/hook"))
    try:
        yield holder[0]
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)
