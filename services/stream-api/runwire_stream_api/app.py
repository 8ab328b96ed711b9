"""The stream API's Litestar application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, stream_settings
from runwire.ops.settings import Settings, SettingsError
from runwire.ops.telemetry import Telemetry, disabled, http_tracing
from runwire.web.header_limits import header_limits
from runwire.web.health import healthz
from runwire.web.problems import ProblemError, exception_handlers
from runwire.web.request_body import BodyCheckedRequest
from runwire.web.serve import add_drain, add_shutdown_hook
from runwire.web.store_errors import store_error_handlers
from runwire_stream_api.dashboard_routes import dashboard_router
from runwire_stream_api.event_trace import event_trace
from runwire_stream_api.export import EARLIEST_HEADER as EXPORT_RESET_HEADER
from runwire_stream_api.export import TO_HEADER as EXPORT_TO_HEADER
from runwire_stream_api.export import export_events
from runwire_stream_api.fanout import Hub
from runwire_stream_api.http_binding import BINARY_MODE_HEADERS
from runwire_stream_api.instance_view import answerer
from runwire_stream_api.latency import LatencyRecorder
from runwire_stream_api.metrics import StreamMetrics
from runwire_stream_api.openapi_docs import document_stream_api
from runwire_stream_api.polling import poll_events
from runwire_stream_api.prometheus import metrics
from runwire_stream_api.publish import MAX_BODY_BYTES, publish_events
from runwire_stream_api.readiness import readyz
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.sse import stream_sse
from runwire_stream_api.stats import stats
from runwire_stream_api.webhooks.dispatch import Dispatcher
from runwire_stream_api.webhooks.registry import Registry
from runwire_stream_api.webhooks.routes import webhooks_router
from runwire_stream_api.websocket import stream_ws
from runwire_stream_api.worker_link import WorkerLink


def cors(settings: Settings) -> CORSConfig | None:
    """Cross-origin access for users' own pages (RUNWIRE_CORS_ORIGINS); none by default.

    An explicit origin list also allows credentials (htmx-ext-sse opens its EventSource with
    `withCredentials`), answered with the request's origin echoed and `Vary: Origin`; `*` never does.
    """
    if not settings.cors_origins:
        return None
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    return CORSConfig(
        allow_origins=origins,
        allow_credentials="*" not in origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        # ce-*: CloudEvents HTTP binary mode (extension attributes beyond runwire's need structured mode).
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID", *BINARY_MODE_HEADERS],
        expose_headers=["Retry-After", "Location", EXPORT_TO_HEADER, EXPORT_RESET_HEADER],
        max_age=600,
    )


def _body_too_large(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[bytes]:
    """413 saying what the publish limit is (Litestar's own says only "Request Entity Too Large")."""
    error = ProblemError(
        413,
        f"the request body is larger than {MAX_BODY_BYTES} bytes; publish fewer events per request",
        kind="payload-too-large",
        title="Payload too large",
    )
    response: Response[bytes] = exception_handlers()[ProblemError](request, error)
    return response


def create_app(
    settings: Settings, telemetry: Telemetry | None = None, worker_link: WorkerLink | None = None
) -> Litestar:
    """A stream API instance for these settings (NATS is connected in the lifespan); `worker_link`:
    this process is one of several workers, answering /metrics, /v1/stats and /readyz for all."""
    if not settings.auth_secret:
        raise SettingsError("RUNWIRE_AUTH_SECRET is required by the stream API (make run sets a dev secret)")
    telemetry = telemetry or disabled()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        nc = await connect_nats(settings.nats_servers, "runwire-stream-api")
        store = EventStore(nc, telemetry=telemetry)
        await store.ensure_stream(stream_settings(settings))
        stream_metrics = StreamMetrics()
        latency = LatencyRecorder(telemetry, project_labels=settings.metrics_project_labels)
        stream_metrics.registry.register(latency)
        hub = Hub(store, stream_metrics, latency, telemetry)
        await hub.start()
        runtime = Runtime(
            settings=settings,
            nc=nc,
            store=store,
            metrics=stream_metrics,
            hub=hub,
            latency=latency,
            telemetry=telemetry,
        )
        app.state.runtime = runtime
        app.state.event_store = store
        webhooks = Dispatcher(nc, await Registry.open(nc), settings, hub.verdicts.servable)
        app.state.webhooks = webhooks
        webhooks.start()
        add_shutdown_hook(app, runtime.begin_shutdown)
        add_drain(app, runtime.drained)
        heartbeats = asyncio.create_task(runtime.send_heartbeats(), name="runwire-heartbeats")
        if worker_link is not None:
            await worker_link.start(answerer(app))
        try:
            yield
        finally:
            if worker_link is not None:
                await worker_link.stop()
            runtime.begin_shutdown()
            heartbeats.cancel()
            await webhooks.stop()
            await hub.stop()
            await nc.drain()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            stats,
            stream_sse,
            stream_ws,
            poll_events,
            export_events,
            publish_events,
            event_trace,
            dashboard_router,
            webhooks_router,
        ],
        lifespan=[lifespan],
        exception_handlers={
            **exception_handlers(),
            **store_error_handlers(),
            RequestEntityTooLarge: _body_too_large,
        },
        request_class=BodyCheckedRequest,
        middleware=[header_limits],
        plugins=http_tracing(telemetry),
        cors_config=cors(settings),
        openapi_config=OpenAPIConfig(
            title="runwire stream API",
            version="0.1.0",
            description=(
                "Filtered, ordered, resumable streams of runwire's CloudEvents over SSE, WebSocket "
                "(`/v1/projects/{project}/events/ws`, same parameters as SSE) and polling, and HTTP publish."
            ),
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"bearer": []}],
        ),
    )
    app.state.auth_secret = settings.auth_secret
    app.state.metrics_token = settings.metrics_token
    app.state.worker_link = worker_link
    document_stream_api(app)
    return app
