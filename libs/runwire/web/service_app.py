"""The Litestar application shape every domain service shares: NATS, the stream, health, auth, errors.

A service contributes its routes and a runtime (its repositories, workers and command server); this
module connects NATS, ensures the EVENTS stream, runs the runtime for the app's lifetime, answers
rejections and every other error as problem+json, and documents the bearer auth in OpenAPI.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import HeaderParameter
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client as NATS

from runwire.contract.ids import IDEMPOTENCY_KEY_HEADER, check_idempotency_key, keyed_id, new_id
from runwire.contract.rejections import Rejected
from runwire.contract.subjects import SubjectError, check_token
from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, stream_settings
from runwire.ops.settings import Settings, SettingsError, load_settings
from runwire.ops.telemetry import from_environment, global_telemetry, http_tracing, install_globally
from runwire.ops.tunables import TunablesError
from runwire.web.header_limits import header_limits
from runwire.web.health import healthz, readyz
from runwire.web.openapi import complete_openapi
from runwire.web.problems import ProblemError, exception_handlers, invalid_field
from runwire.web.request_body import BodyCheckedRequest
from runwire.web.serve import configure_logging, serve
from runwire.web.store_errors import store_error_handlers


@dataclass(frozen=True)
class ServiceContext:
    """What a service's runtime is built from once NATS is connected."""

    settings: Settings
    nc: NATS
    store: EventStore


RuntimeFactory = Callable[[ServiceContext], AbstractAsyncContextManager[Any]]
V = TypeVar("V")

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_KEY_HEADER,
        description="A retry with the same key returns what the first request created (200, not 201); "
        "the same key with a different request is a 409",
    ),
]


class CancelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The optional body of a cancel: why (recorded in the cancelled event)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "cancelled by user"


def new_aggregate_id(prefix: str, project: str, idempotency_key: str | None) -> str:
    """The id a create command gets: derived from its Idempotency-Key, or fresh without one."""
    if idempotency_key is None:
        return new_id(prefix)
    return keyed_id(prefix, project, check_idempotency_key(idempotency_key))


def created(view: V, *, new: bool, location: str) -> Response[V]:
    """201 with a Location for a new aggregate; 200 for an idempotent replay of its create."""
    return Response(view, status_code=201 if new else 200, headers={"Location": location})


def problem_for(rejection: Rejected) -> ProblemError:
    """The problem+json error of a domain rejection."""
    return ProblemError(
        rejection.status,
        rejection.detail,
        kind=rejection.kind,
        title=rejection.kind.replace("-", " ").capitalize(),
        field=rejection.field,
    )


def _rejection_handler(request: Request[Any, Any, Any], exc: Rejected) -> Response[bytes]:
    handler = exception_handlers()[ProblemError]
    response: Response[bytes] = handler(request, problem_for(exc))
    return response


def checked_project(project: str) -> str:
    """The `{project}` path parameter if it is a valid project id, else a 400 naming it."""
    try:
        return check_token("project", project)
    except SubjectError as exc:
        raise invalid_field("project", exc.message, source="path") from exc


def domain_service_app(
    settings: Settings,
    *,
    name: str,
    title: str,
    description: str,
    route_handlers: Sequence[ControllerRouterHandler],
    runtime: RuntimeFactory,
    request_max_body_size: int = 1024 * 1024,
    body_limit_detail: str | None = None,
) -> Litestar:
    """A Litestar app for one domain service; its runtime is available to routes as `runtime`.

    `body_limit_detail` is the 413 answer to a body over `request_max_body_size` (say what the limit
    is and which setting moves it).
    """
    too_large_detail = body_limit_detail or f"the request body is larger than {request_max_body_size} bytes"

    def too_large_handler(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[bytes]:
        error = ProblemError(413, too_large_detail, kind="payload-too-large", title="Payload too large")
        response: Response[bytes] = exception_handlers()[ProblemError](request, error)
        return response

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        nc = await connect_nats(settings.nats_servers, f"runwire-{name}")
        try:
            store = EventStore(nc)
            await store.ensure_stream(stream_settings(settings))
            context = ServiceContext(settings=settings, nc=nc, store=store)
            app.state.event_store = store
            async with runtime(context) as service_runtime:
                app.state.runtime = service_runtime
                yield
        finally:
            await nc.drain()

    def provide_runtime(state: State) -> Any:
        return state.runtime

    bearer = SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description='HS256 JWT with a `projects` claim (list of project ids, or "*")',
    )
    app = Litestar(
        route_handlers=[healthz, readyz, *route_handlers],
        lifespan=[lifespan],
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        exception_handlers={
            **exception_handlers(),
            **store_error_handlers(),
            Rejected: _rejection_handler,
            RequestEntityTooLarge: too_large_handler,
        },
        request_max_body_size=request_max_body_size,
        request_class=BodyCheckedRequest,
        middleware=[header_limits],
        plugins=http_tracing(global_telemetry()),
        openapi_config=OpenAPIConfig(
            title=title,
            version="0.1.0",
            description=description,
            components=Components(security_schemes={"bearer": bearer}),
            security=[{"bearer": []}],
        ),
    )
    app.state.auth_secret = settings.auth_secret
    complete_openapi(app)
    return app


def run_domain_service(
    name: str, offset: int, create_app: Callable[[Settings, Any], Litestar], load_config: Callable[[], Any]
) -> None:
    """The `python -m runwire_<name>` entry point: validate settings and tunables, then serve.

    Serves on RUNWIRE_HTTP_PORT + `offset` until SIGINT/SIGTERM; bad settings end the process
    with a message naming the variable.
    """
    try:
        settings = load_settings()
        config = load_config()
    except (SettingsError, TunablesError) as exc:
        sys.exit(f"runwire {name}: {exc}")
    if not settings.nats_servers:
        sys.exit(f"runwire {name}: RUNWIRE_NATS_URL is not set (make run starts NATS and sets it)")
    if not settings.auth_secret:
        sys.exit(f"runwire {name}: RUNWIRE_AUTH_SECRET is not set (make run sets it)")
    configure_logging(settings)
    # With OTEL_EXPORTER_OTLP_ENDPOINT set, every append becomes a PRODUCER span (the event store
    # uses the global providers) and the events carry its traceparent.
    telemetry = from_environment(f"runwire-{name}")
    install_globally(telemetry)
    try:
        serve(create_app(settings, config), settings, settings.service_port(offset))
    finally:
        telemetry.shutdown()
