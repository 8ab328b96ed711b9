"""Clients of the stream API that do what the docs ask of a client: on any break, reconnect after a
moment and resume with the last cursor they received. Each appends every cursor it receives to
`ids`, in order, until it has `count`."""

from __future__ import annotations

import asyncio
import json
from typing import Final

import httpx
import websockets

from tests.support.stream_clients import SSEMessage, events_of, poll, sse, ws

# Pacing, not evidence: a client's pause before it reconnects, as the docs ask of clients.
RECONNECT_SECONDS: Final = 0.2
BROKEN: Final = (httpx.HTTPError, websockets.exceptions.WebSocketException, OSError, AssertionError)


def resume_params(ids: list[str]) -> dict[str, str]:
    return {"last_event_id": ids[-1]} if ids else {"from": "earliest"}


async def follow_sse(base: str, project: str, token: str, ids: list[str], count: int) -> None:
    while len(ids) < count:
        resumed_at = len(ids)

        def absorb(messages: list[SSEMessage], resumed_at: int = resumed_at) -> bool:
            """Keep `ids` current as messages arrive (the reader parses; this only copies cursors)."""
            ids[resumed_at:] = [message.id or "" for message in events_of(messages)]
            return len(ids) >= count

        try:
            async with sse(base, project, token, resume_params(ids)) as reader:
                await reader.read_until(absorb, 60)
        except BROKEN:
            await asyncio.sleep(RECONNECT_SECONDS)


async def follow_websocket(base: str, project: str, token: str, ids: list[str], count: int) -> None:
    while len(ids) < count:
        try:
            async with ws(base, project, token, resume_params(ids)) as connection:
                while len(ids) < count:
                    message = json.loads(await connection.recv())
                    if "event" in message:
                        ids.append(message["id"])
        except BROKEN:
            await asyncio.sleep(RECONNECT_SECONDS)


async def follow_polling(base: str, project: str, token: str, ids: list[str], count: int) -> None:
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while len(ids) < count:
            params = {"last_event_id": cursor} if cursor else {"from": "earliest"}
            try:
                response = await poll(http, project, token, wait=1, **params)
            except BROKEN:
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if response.status_code != 200:
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            page = response.json()
            ids.extend(item["id"] for item in page["events"])
            cursor = page["next"] or cursor
