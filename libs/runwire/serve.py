"""Running a service's Litestar app on the ASGI server runwire uses, the same way for every service."""

from __future__ import annotations

import logging

import uvicorn
from litestar import Litestar

from runwire.settings import Settings


def configure_logging(settings: Settings) -> None:
    """One log format for all runwire processes."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(app: Litestar, settings: Settings, port: int) -> None:
    """Serve `app` on the configured host and `port` until SIGINT/SIGTERM, then shut down gracefully."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        server_header=False,
    )
    uvicorn.Server(config).run()
