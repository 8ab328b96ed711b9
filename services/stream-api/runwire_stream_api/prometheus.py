"""The metrics endpoint, for scrapers: open by default, or behind `RUNWIRE_METRICS_TOKEN`.

Its label sets are bounded (no project ids unless asked for), so an open /metrics lists no tenants.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler

from runwire.web.auth import token_from, unauthorized
from runwire.web.openapi import also_answers
from runwire_stream_api.instance_view import instance_metrics
from runwire_stream_api.runtime import Runtime


def metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: when a metrics token is configured, the scraper must present it as a bearer token."""
    expected: str | None = connection.app.state.metrics_token
    if not expected:
        return
    presented = token_from(connection.headers, {}) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise unauthorized("/metrics needs the bearer token configured in RUNWIRE_METRICS_TOKEN")


@get(
    "/metrics",
    summary="Prometheus metrics",
    description="Prometheus text format 0.0.4. Needs `Authorization: Bearer <RUNWIRE_METRICS_TOKEN>` when "
    "that setting is set.",
    tags=["operations"],
    guards=[metrics_guard],
    opt=also_answers(401),
    media_type="text/plain",
    security=[],
)
async def metrics(state: State) -> Response[bytes]:
    """Prometheus text exposition of the stream API's counters, gauges and histograms (every worker's)."""
    runtime: Runtime = state.runtime
    return Response(await instance_metrics(state), media_type=runtime.metrics.content_type)
