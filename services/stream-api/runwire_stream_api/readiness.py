"""`GET /readyz` of the stream API: ready only when every worker of the instance is."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from runwire.web.openapi import also_answers
from runwire_stream_api.instance_view import instance_readiness


@get("/readyz", summary="Readiness", tags=["operations"], opt=also_answers(503))
async def readyz(state: State) -> dict[str, object]:
    """Ready when NATS is connected and the EVENTS stream answers, in every worker process; 503
    otherwise (saying how many workers are not ready or not answering)."""
    return await instance_readiness(state)
