"""Serving a Litestar app on a real loopback socket inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import uvicorn
from litestar import Litestar

from runwire.web.response_socket import HttpProtocol
from runwire.web.serve import WebSocketProtocol, run_shutdown_hooks
from tests.support.eventually import eventually


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Litestar, port: int = 0, *, direct_writes: bool = True) -> AsyncIterator[str]:
    """Run `app` under uvicorn on 127.0.0.1 and a free port (or `port`, to restart); yields its base URL.

    With runwire's HTTP protocol, as `runwire.web.serve` runs it, unless `direct_writes` is False
    (then plain httptools: responses have no `ResponseSocket` and stream over ASGI `send` only).
    """
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=HttpProtocol if direct_writes else "httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws=WebSocketProtocol,
        timeout_graceful_shutdown=5,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()
            raise RuntimeError("server exited at start")
        return server.started

    await eventually(started)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        run_shutdown_hooks(app)
        server.should_exit = True
        await task
