"""`GET /v1/stats`: this instance's live figures, for the dashboard and operators."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from runwire.web.auth import project_guard
from runwire_stream_api.instance_view import instance_stats


@get(
    "/v1/stats",
    guards=[project_guard],
    summary="Live figures of this instance",
    description=(
        "Connections by transport, clients in catch-up, queued events, events read from the live tail, "
        "deliveries by transport, the fan-out position, and delivery latency (seconds) over the last "
        "window: count, p50, p95, p99 (bucket upper bounds) and max, over every worker of the instance "
        "(`workers`: expected, answering). Any valid token may read it."
    ),
    tags=["operations"],
)
async def stats(state: State) -> dict[str, object]:
    return await instance_stats(state)
