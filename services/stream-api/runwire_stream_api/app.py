"""The stream API's Litestar application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from runwire.connection import connect_nats
from runwire.event_store import EventStore, stream_settings
from runwire.problems import exception_handlers
from runwire.settings import Settings

from runwire_stream_api.health import healthz, metrics, readyz
from runwire_stream_api.metrics import StreamMetrics
from runwire_stream_api.runtime import Runtime


def create_app(settings: Settings) -> Litestar:
    """A stream API instance for these settings (NATS is connected in the lifespan)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        nc = await connect_nats(settings.nats_servers, "runwire-stream-api")
        store = EventStore(nc)
        await store.ensure_stream(stream_settings(settings))
        app.state.runtime = Runtime(settings=settings, nc=nc, store=store, metrics=StreamMetrics())
        app.state.auth_secret = settings.auth_secret
        try:
            yield
        finally:
            await nc.drain()

    return Litestar(
        route_handlers=[healthz, readyz, metrics],
        lifespan=[lifespan],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(title="runwire stream API", version="0.1.0"),
    )
