"""The metrics endpoint: unauthenticated, for scrapers (health and readiness are runwire.health's)."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from runwire_stream_api.runtime import Runtime


@get(
    "/metrics",
    summary="Prometheus metrics",
    tags=["operations"],
    media_type="text/plain",
    sync_to_thread=False,
)
def metrics(state: State) -> Response[bytes]:
    """Prometheus text exposition of the stream API's counters, gauges and histograms."""
    runtime: Runtime = state.runtime
    return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)
