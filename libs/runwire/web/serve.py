"""Running a service's Litestar app on the ASGI server runwire uses, the same way for every service.

On SIGTERM/SIGINT the app's shutdown hooks run first (streams send their close frames and end),
then the server stops accepting, drains what is left and runs the lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, Final

import uvicorn
from litestar import Litestar
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from runwire.ops import redaction
from runwire.ops.settings import Settings
from runwire.web.response_socket import HttpProtocol

log = logging.getLogger(__name__)

# How long SIGTERM waits for streams to send their own close frames before uvicorn closes the rest.
DRAIN_WAIT_SECONDS: Final = 5.0


def configure_logging(settings: Settings) -> None:
    """One log format for all runwire processes, with secrets redacted from every line."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redaction.install()


def add_shutdown_hook(app: Litestar, hook: Callable[[], None]) -> None:
    """Register `hook` to run (in the event loop) as soon as the server is asked to stop."""
    hooks: list[Callable[[], None]] = app.state.setdefault("shutdown_hooks", [])
    hooks.append(hook)


def add_drain(app: Litestar, drained: Callable[[], Awaitable[None]]) -> None:
    """Register `drained`: on shutdown the server awaits it (bounded) before closing connections itself."""
    drains: list[Callable[[], Awaitable[None]]] = app.state.setdefault("drains", [])
    drains.append(drained)


def run_shutdown_hooks(app: Litestar) -> None:
    """Run the registered hooks now (call from the event loop's thread)."""
    for hook in app.state.get("shutdown_hooks", []):
        try:
            hook()
        except Exception:
            log.exception("shutdown hook failed")


class _Server(uvicorn.Server):
    """uvicorn, telling the app that shutdown began before it stops accepting connections."""

    def __init__(
        self,
        config: uvicorn.Config,
        app: Litestar,
        signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
    ) -> None:
        super().__init__(config)
        self._app = app
        self._hooks_ran = False
        self._signals = signals

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self._hooks_ran:
            self._hooks_ran = True
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_soon_threadsafe(run_shutdown_hooks, self._app)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Let the app's own close frames go out first: uvicorn closes what is left with 1012."""
        drains: list[Callable[[], Awaitable[None]]] = self._app.state.get("drains", [])
        if drains:
            limit = min(DRAIN_WAIT_SECONDS, self.config.timeout_graceful_shutdown or 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(drained() for drained in drains)), limit)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Handle SIGINT/SIGTERM as a graceful stop and then exit 0 (uvicorn re-raises the signal)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in self._signals}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, knowing that a sent denial response ends the handshake.

    uvicorn 0.54 never marks a refused upgrade (an ASGI `websocket.http.response`) as complete and
    logs "ASGI callable returned without completing handshake" at ERROR for every 401/403/503.
    """

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


def tune_garbage_collector() -> None:
    """Fewer, shorter GC pauses for servers holding thousands of long-lived connections.

    Measured on the fan-out benchmark: with CPython's defaults, full collections paused the
    event loop for 45-50 ms several times a minute, which was the whole p99 of delivery latency.
    Objects alive at start are frozen out of collections and young ones are collected less often.
    """
    gc.freeze()
    gc.set_threshold(10_000, 50, 1000)


def serve(
    app: Litestar,
    settings: Settings,
    port: int,
    *,
    listener: socket.socket | None = None,
    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
) -> None:
    """Serve `app` on the configured host and `port` until SIGINT/SIGTERM, then shut down gracefully.

    `listener`: an already bound, listening socket to accept on instead (a worker process sharing
    its parent's port); `signals`: the ones that stop it gracefully (a worker leaves SIGINT to its parent).
    """
    tune_garbage_collector()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        loop="uvloop",
        http=HttpProtocol,
        ws=WebSocketProtocol,
        lifespan="on",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        server_header=False,
        backlog=4096,
    )
    _Server(config, app, signals).run(sockets=None if listener is None else [listener])
