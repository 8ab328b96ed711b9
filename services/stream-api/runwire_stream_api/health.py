"""Liveness, readiness and metrics endpoints: unauthenticated, for orchestrators and scrapers."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from runwire.event_store import StoreError
from runwire.problems import ProblemError
from runwire_stream_api.runtime import Runtime


@get("/healthz", summary="Liveness", tags=["operations"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@get("/readyz", summary="Readiness", tags=["operations"])
async def readyz(state: State) -> dict[str, object]:
    """Ready when NATS is connected and the EVENTS stream exists; 503 otherwise."""
    runtime: Runtime = state.runtime
    if not runtime.nc.is_connected:
        raise ProblemError(
            503, "not connected to NATS", kind="not-ready", title="Not ready", headers={"Retry-After": "1"}
        )
    try:
        bounds = await runtime.store.bounds()
    except StoreError as exc:
        raise ProblemError(
            503,
            f"EVENTS stream unavailable: {exc}",
            kind="not-ready",
            title="Not ready",
            headers={"Retry-After": "1"},
        ) from exc
    return {"status": "ready", "stream": runtime.store.stream, "last_seq": bounds.last_seq}


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
