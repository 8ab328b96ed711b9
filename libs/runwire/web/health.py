"""Liveness and readiness endpoints, the same for every runwire service: unauthenticated, for
orchestrators. Readiness reads the app's event store from `app.state.event_store`."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from runwire.es.process import ProcessManager
from runwire.jetstream.event_store import EventStore, StoreError
from runwire.web.openapi import also_answers
from runwire.web.problems import ProblemError


def not_ready(detail: str) -> ProblemError:
    return ProblemError(503, detail, kind="not-ready", title="Not ready", headers={"Retry-After": "1"})


@get("/healthz", summary="Liveness", tags=["operations"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@get("/readyz", summary="Readiness", tags=["operations"], opt=also_answers(503))
async def readyz(state: State) -> dict[str, object]:
    """Ready when NATS is connected and the EVENTS stream answers; 503 otherwise."""
    return await readiness(state)


async def readiness(state: State) -> dict[str, object]:
    """This process's readiness (what `/readyz` answers), or `not_ready` raised; for services that
    answer for several processes at once (the stream API's workers)."""
    store: EventStore = state.event_store
    if not store.nc.is_connected:
        raise not_ready("not connected to NATS")
    try:
        bounds = await store.bounds()
    except StoreError as exc:
        raise not_ready(f"EVENTS stream unavailable: {exc}") from exc
    ready: dict[str, object] = {"status": "ready", "stream": store.stream, "last_seq": bounds.last_seq}
    process = getattr(getattr(state, "runtime", None), "process", None)
    if isinstance(process, ProcessManager) and process.leases is not None:
        # How many in-flight aggregates this replica drives (a count: no project is named here).
        ready["work_held"] = len(process.leases)
    if store.settings_drift:
        # Kept, not changed behind the operator's back: what differs from this process's settings.
        ready["settings_drift"] = store.settings_drift
    return ready
