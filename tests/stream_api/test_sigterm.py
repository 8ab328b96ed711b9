"""SIGTERM with clients connected: SSE gets `event: close`, WebSocket gets 1001, the process exits."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from runwire.web.auth import issue_token
from tests.stream_api.conftest import SECRET, APIProcess
from tests.support.eventually import eventually
from tests.support.stream_clients import sse, ws


async def test_sigterm_closes_streams_and_exits(stream_api_process: APIProcess, project: str) -> None:
    process, base = stream_api_process.process, stream_api_process.base
    token = issue_token(SECRET, "t", [project])
    async with sse(base, project, token) as reader, ws(base, project, token) as connection:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:

            async def both_streams_open() -> bool:
                connections = (await http.get("/v1/stats")).json()["connections"]
                return bool(connections["sse"] == connections["ws"] == 1)

            await eventually(both_streams_open, timeout=5)
        process.send_signal(signal.SIGTERM)
        messages = await reader.read_to_end(timeout=10)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 10)
    assert messages[-1].event == "close"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    started = time.monotonic()
    code = await asyncio.to_thread(process.wait, 15)
    assert code == 0
    assert time.monotonic() - started < 10
