"""SIGTERM with clients connected: SSE gets `event: close`, WebSocket gets 1001, the process exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from runwire.auth import issue_token
from tests.support.stream_clients import sse, ws

SECRET = "sigterm-test-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stream_api_process(nats_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "RUNWIRE_NATS_URL": nats_url,
        "RUNWIRE_AUTH_SECRET": SECRET,
        "RUNWIRE_HTTP_PORT": str(port),
        "RUNWIRE_HEARTBEAT_SECONDS": "0.5",
    }
    log = (tmp_path / "stream-api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "runwire_stream_api"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


async def test_sigterm_closes_streams_and_exits(stream_api_process, project: str) -> None:  # type: ignore[no-untyped-def]
    process, base = stream_api_process
    token = issue_token(SECRET, "t", [project])
    async with sse(base, project, token) as reader, ws(base, project, token) as connection:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        await asyncio.sleep(0.2)
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
