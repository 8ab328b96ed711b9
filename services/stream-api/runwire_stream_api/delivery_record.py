"""What the live tail learns about one event's delivery: kept by the hub, written by the deliveries.

The frame is what clients share and never changes; this record holds the telemetry that changes as
the event goes out (receipt, recipients, trace context, first socket write), for latency spans and
the per-event trace breakdown (`GET .../events/{cursor}/trace`).
"""

from __future__ import annotations

from opentelemetry.context import Context

from runwire_stream_api.frames import Frame


class DeliveryRecord:
    """One live event as this instance handled it; times in ns since the epoch."""

    __slots__ = (
        "event_id",
        "first_delivered_ns",
        "frame",
        "received_ns",
        "recipients",
        "trace_context",
        "traceparent",
    )

    def __init__(self, frame: Frame, event_id: str, traceparent: str | None, received_ns: int) -> None:
        self.frame = frame
        self.event_id = event_id
        self.traceparent = traceparent
        self.received_ns = received_ns
        self.recipients = 0
        self.trace_context: Context | None = None
        """The fan-out span's context, parent of the first delivery's `process` span (telemetry on)."""
        self.first_delivered_ns: int | None = None
