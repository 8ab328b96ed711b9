"""`GET /v1/projects/{project}/events/{cursor}/trace`: where one recent event spent its time.

publish (the event's `time`) -> stored (JetStream) -> received (this instance's live consumer) ->
first delivered (first socket write), from the instance's bounded buffer of recent events (with
several workers, from the one that delivered the event first, recipients counted over all).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import get
from litestar.datastructures import State
from litestar.params import FromPath

from runwire.contract.cursor import CursorError, format_cursor, parse_cursor
from runwire.ops.telemetry import trace_id_of
from runwire.web.auth import project_guard
from runwire.web.problems import ProblemError, invalid_field
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.worker_link import WorkerLink


class Stages(msgspec.Struct):
    """Seconds spent between the milestones (None where a milestone is unknown)."""

    publish_to_stored: float | None
    stored_to_received: float | None
    received_to_delivered: float | None
    total: float | None


class EventTrace(msgspec.Struct):
    cursor: str
    id: str
    type: str
    aggregate: str
    trace_id: str | None
    published_at: datetime
    stored_at: datetime
    received_at: datetime
    first_delivered_at: datetime | None
    recipients: int
    stages: Stages


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start) / 1e9)


@get(
    "/v1/projects/{project:str}/events/{cursor:str}/trace",
    guards=[project_guard],
    summary="Trace breakdown of a recent event",
    description="404 when the event is no longer among the instance's recent events.",
    tags=["operations"],
)
async def event_trace(project: FromPath[str], cursor: FromPath[str], state: State) -> EventTrace:
    try:
        seq = parse_cursor(cursor)
    except CursorError as exc:
        raise invalid_field("cursor", str(exc), source="path") from exc
    found = trace_of(state.runtime, project, seq)
    link: WorkerLink | None = state.get("worker_link")
    if link is not None:
        answers = await link.ask(f"trace {seq} {project}")
        found = merge_traces([found, *(_trace(answer) for answer in answers)])
    if found is None:
        raise ProblemError(
            404,
            f"event {cursor} of project {project!r} is not among this instance's recent events",
            kind="trace-not-found",
            title="Not Found",
        )
    return found


def merge_traces(traces: list[EventTrace | None]) -> EventTrace | None:
    """One event as the instance's workers handled it: recipients summed over the workers, the
    milestones of the worker that delivered it first (each worker receives it from its own tail)."""
    known = [found for found in traces if found is not None]
    if not known:
        return None
    delivered = [found for found in known if found.first_delivered_at is not None]
    first = min(delivered, key=lambda found: found.first_delivered_at or found.received_at, default=known[0])
    return msgspec.structs.replace(first, recipients=sum(found.recipients for found in known))


def _trace(answer: object) -> EventTrace | None:
    if answer is None:
        return None
    try:
        return msgspec.convert(answer, EventTrace, strict=False)
    except msgspec.ValidationError:
        return None


def trace_of(runtime: Runtime, project: str, seq: int) -> EventTrace | None:
    """This process's trace of event `seq` of `project`, or None when it is not among its recent events."""
    record = runtime.hub.recent.get(seq)
    if record is None or record.frame.project != project:
        return None
    frame = record.frame
    delivered = record.first_delivered_ns
    return EventTrace(
        cursor=format_cursor(frame.seq),
        id=record.event_id,
        type=frame.type,
        aggregate=frame.aggregate,
        trace_id=trace_id_of(record.traceparent),
        published_at=_at(frame.published_ns),
        stored_at=_at(frame.stored_ns),
        received_at=_at(record.received_ns),
        first_delivered_at=_at(delivered) if delivered is not None else None,
        recipients=record.recipients,
        stages=Stages(
            publish_to_stored=_seconds(frame.published_ns, frame.stored_ns),
            stored_to_received=_seconds(frame.stored_ns, record.received_ns),
            received_to_delivered=_seconds(record.received_ns, delivered),
            total=_seconds(frame.published_ns, delivered),
        ),
    )
