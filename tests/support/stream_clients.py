"""Real clients of the stream API for tests: an SSE reader, a WebSocket reader and a poller."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection


@dataclass
class SSEMessage:
    """One parsed SSE message (a comment-only block has event == "" and comment set)."""

    id: str | None = None
    event: str = "message"
    data: str = ""
    comment: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SSEReader:
    """Parses an SSE byte stream into messages; `events()` are the CloudEvent ones."""

    response: httpx.Response
    messages: list[SSEMessage] = field(default_factory=list)
    _buffer: str = ""
    _chunks: AsyncIterator[bytes] | None = None

    async def _more(self) -> bool:
        if self._chunks is None:
            self._chunks = self.response.aiter_raw()
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            return False
        self._buffer += chunk.decode()
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            self.messages.append(parse_block(block))
        return True

    async def read_until(self, predicate: Any, timeout: float = 10.0) -> list[SSEMessage]:
        """Read until `predicate(messages)` is true; returns all messages so far."""

        async def loop() -> None:
            while not predicate(self.messages):
                if not await self._more():
                    return

        await asyncio.wait_for(loop(), timeout)
        return self.messages

    async def read_events(self, count: int, timeout: float = 10.0) -> list[SSEMessage]:
        """Read until `count` event messages (not comments or controls) have arrived."""
        await self.read_until(lambda ms: len(events_of(ms)) >= count, timeout)
        return events_of(self.messages)

    async def read_to_end(self, timeout: float = 10.0) -> list[SSEMessage]:
        async def loop() -> None:
            while await self._more():
                pass

        await asyncio.wait_for(loop(), timeout)
        return self.messages


def parse_block(block: str) -> SSEMessage:
    message = SSEMessage()
    data_lines = []
    event_seen = False
    for line in block.split("\n"):
        if line.startswith(":"):
            message.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            message.id = value
        elif name == "event":
            message.event = value
            event_seen = True
        elif name == "data":
            data_lines.append(value)
        elif name == "retry":
            message.event = "retry"
            event_seen = True
    message.data = "\n".join(data_lines)
    if not event_seen and not data_lines:
        message.event = ""
    return message


CONTROL_EVENTS = {"", "retry", "reset", "close", "message"}


def events_of(messages: list[SSEMessage]) -> list[SSEMessage]:
    return [m for m in messages if m.event not in CONTROL_EVENTS]


@asynccontextmanager
async def sse(
    base: str,
    project: str,
    token: str,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[SSEReader]:
    """An open SSE stream; closing the context disconnects the client."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as http,
        http.stream(
            "GET",
            f"/v1/projects/{project}/events/stream",
            params=params or {},
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        yield SSEReader(response)


@asynccontextmanager
async def ws(
    base: str, project: str, token: str, params: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    query = httpx.QueryParams({"access_token": token, **(params or {})})
    url = base.replace("http://", "ws://") + f"/v1/projects/{project}/events/ws?{query}"
    async with websockets.connect(url, open_timeout=10, max_size=None) as connection:
        yield connection


async def ws_read(connection: ClientConnection, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Read `count` event messages ({"id", "event"}) from a WebSocket stream."""
    out: list[dict[str, Any]] = []

    async def loop() -> None:
        while len(out) < count:
            message = json.loads(await connection.recv())
            if "event" in message:
                out.append(message)

    await asyncio.wait_for(loop(), timeout)
    return out


async def poll(http: httpx.AsyncClient, project: str, token: str, **params: Any) -> httpx.Response:
    return await http.get(
        f"/v1/projects/{project}/events",
        params={k: str(v) for k, v in params.items() if v is not None},
        headers={"Authorization": f"Bearer {token}"},
    )
