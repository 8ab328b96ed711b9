"""What happens after a socket write: latency recorded, the event's first delivery timed and traced.

Shared by every transport so that each records deliveries the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.trace import SpanKind

from runwire.ops.telemetry import Telemetry
from runwire_stream_api.delivery_record import DeliveryRecord
from runwire_stream_api.frames import Frame
from runwire_stream_api.latency import LatencyRecorder
from runwire_stream_api.metrics import Tally


class _Deliveries:
    """What every kind of delivery records: the count, and each event's first write (timed, traced)."""

    __slots__ = ("_count", "_latency", "_telemetry", "_transport", "_undelivered")

    def __init__(
        self,
        latency: LatencyRecorder,
        telemetry: Telemetry,
        counts: dict[str, Tally],
        undelivered: dict[int, DeliveryRecord],
        transport: str,
    ) -> None:
        self._latency = latency
        self._telemetry = telemetry
        self._count = counts[transport]
        self._undelivered = undelivered  # the hub's records of recent events not yet written
        self._transport = transport

    def _first_write(self, record: DeliveryRecord, started_ns: int, now_ns: int) -> None:
        record.first_delivered_ns = now_ns
        if record.trace_context is not None:
            process_span(self._telemetry, record, self._transport, started_ns, now_ns)


class DeliveryRecorder(_Deliveries):
    """Per client: counts latency only for events stored after the client connected (not replays
    of history it asked for), and gives each event one sampled `process` span: its first write."""

    __slots__ = ("_connected_ns", "_series")

    def __init__(
        self,
        latency: LatencyRecorder,
        telemetry: Telemetry,
        counts: dict[str, Tally],
        undelivered: dict[int, DeliveryRecord],
        transport: str,
        project: str,
    ) -> None:
        super().__init__(latency, telemetry, counts, undelivered, transport)
        self._series = latency.series(transport, project)
        self._connected_ns = time.time_ns()

    def written(self, batch: Sequence[Frame], started_ns: int) -> None:
        """`batch` was written to the socket; the write began at `started_ns`."""
        now = time.time_ns()
        self._count.value += len(batch)
        self._latency.delivered(self._series, batch, now, self._connected_ns)
        undelivered = self._undelivered
        if not undelivered:
            return  # the common case with many clients: someone else wrote them first
        for frame in batch:  # live or a catch-up copy: the hub's record of the event is timed
            record = undelivered.pop(frame.seq, None)
            if record is not None:
                self._first_write(record, started_ns, now)


class DirectDeliveries(_Deliveries):
    """Deliveries the fan-out wrote to idle clients' sockets itself (ClientStream.offer): counted,
    timed and traced once per event for all its recipients, which were written within microseconds."""

    __slots__ = ()

    def record(self, record: DeliveryRecord, recipients: int, started_ns: int) -> None:
        """`recipients` clients were written the event of `record`; the writes began at `started_ns`."""
        now = time.time_ns()
        frame = record.frame
        self._count.value += recipients
        latency = self._latency
        latency.delivered_to(latency.series(self._transport, frame.project), frame, now, recipients)
        if self._undelivered.pop(frame.seq, None) is not None:
            self._first_write(record, started_ns, now)


def process_span(
    telemetry: Telemetry, record: DeliveryRecord, transport: str, started_ns: int, ended_ns: int
) -> None:
    """The event's one sampled `process` span: its first socket write, child of the fan-out span."""
    frame = record.frame
    span = telemetry.tracer.start_span(
        f"process events.{frame.project}.{frame.aggregate}.{frame.type}",
        context=record.trace_context,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.operation.name": "deliver",
            "messaging.message.id": record.event_id,
            "runwire.transport": transport,
            "runwire.contract.cursor": str(frame.seq),
        },
        start_time=started_ns,
    )
    span.end(ended_ns)
