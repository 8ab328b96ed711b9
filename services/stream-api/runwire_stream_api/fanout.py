"""The live fan-out: one JetStream consumer per instance reads the tail of EVENTS and hands each
event, checked and decoded once and encoded once per transport, to every matching client by
reference. A message that is not a CloudEvent of its subject is skipped (see verdicts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from runwire.jetstream.event_store import EventStore
from runwire.jetstream.stream_reader import StoredMessage
from runwire.ops.telemetry import Telemetry, context_from
from runwire_stream_api.delivery import DirectDeliveries
from runwire_stream_api.delivery_record import DeliveryRecord
from runwire_stream_api.frames import Frame, single_line_json
from runwire_stream_api.index import Subscriber, SubscriptionIndex
from runwire_stream_api.latency import LatencyRecorder
from runwire_stream_api.metrics import StreamMetrics
from runwire_stream_api.verdicts import Verdicts

log = logging.getLogger(__name__)

LIVE_BUFFER: Final = 8192
RETRY_SECONDS: Final = 1.0
RECENT_EVENTS: Final = 4096


class Hub:
    """Owns the live tail consumer and the subscription index; `position` is the last sequence
    it has dispatched, the boundary at which clients join."""

    def __init__(
        self,
        store: EventStore,
        metrics: StreamMetrics,
        latency: LatencyRecorder,
        telemetry: Telemetry,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.latency = latency
        self.telemetry = telemetry
        self.index = SubscriptionIndex()
        self.position = 0
        self.recent: OrderedDict[int, DeliveryRecord] = OrderedDict()
        self.undelivered: dict[int, DeliveryRecord] = {}  # recent records not yet written anywhere
        self.verdicts = Verdicts(metrics)
        self.sse_written = DirectDeliveries(latency, telemetry, metrics.deliveries, self.undelivered, "sse")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin at the current end of the stream: earlier events are served by catch-up reads."""
        self.position = (await self.store.bounds()).last_seq
        self.verdicts.start_live(self.position)
        self._task = asyncio.create_task(self._run(), name="runwire-live-tail")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def attach(self, subscriber: Subscriber) -> int:
        """Add a subscriber; it receives every matching event after the returned position."""
        self.index.add(subscriber)
        return self.position

    def detach(self, subscriber: Subscriber) -> None:
        self.index.remove(subscriber)

    async def _run(self) -> None:
        while True:
            tail = self.store.follow(
                after=self.position,
                max_buffered=LIVE_BUFFER,
                with_headers=self.telemetry.enabled,  # a raw producer's traceparent header
            )
            try:
                async with contextlib.aclosing(tail) as batches:
                    async for batch in batches:
                        self._dispatch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live tail interrupted at %d (%s); resuming", self.position, exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _dispatch(self, batch: list[StoredMessage]) -> None:
        received_ns = time.time_ns()
        now = asyncio.get_running_loop().time()
        match = self.index.match
        for message in batch:
            seq = message.seq
            if seq <= self.position:
                continue
            self.metrics.events_in.value += 1
            record = self._record(message, received_ns)
            if record is not None:
                frame = record.frame
                subscribers = match(frame.project, frame.aggregate, frame.type)
                record.recipients = len(subscribers)
                if self.telemetry.enabled:
                    self._trace(record, message)
                written = 0
                started_ns = time.time_ns()
                for subscriber in subscribers:
                    if subscriber.offer(frame, now):
                        written += 1
                self._remember(record)
                if written:
                    self.sse_written.record(record, written, started_ns)
            self.position = seq

    def _record(self, message: StoredMessage, received_ns: int) -> DeliveryRecord | None:
        """Check and decode once for the instance: None if the message may not be served."""
        event = self.verdicts.live(message)
        if event is None:
            return None
        published_ns = int(event.time.timestamp() * 1e9) if event.time is not None else message.stored_ns
        frame = Frame(
            message.seq,
            event.project,
            event.aggregate,
            event.type,
            single_line_json(message.data),
            message.stored_ns,
            published_ns,
        )
        headers = message.headers
        traceparent = (headers.get("traceparent") if headers else None) or event.traceparent
        self.latency.received(published_ns, received_ns)
        return DeliveryRecord(frame, event.id, traceparent, received_ns)

    def _trace(self, record: DeliveryRecord, message: StoredMessage) -> None:
        """A CONSUMER span continuing the producer's trace, and a fan-out span with the recipients."""
        tracer = self.telemetry.tracer
        parent = context_from(record.traceparent)
        attributes = {
            "messaging.system": "nats",
            "messaging.destination.name": message.subject,
            "messaging.message.id": record.event_id,
            "messaging.operation.type": "receive",
            "messaging.operation.name": "receive",
            "runwire.contract.cursor": str(message.seq),
        }
        receive = tracer.start_span(
            f"receive {message.subject}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            start_time=record.received_ns,
        )
        receive_context = trace.set_span_in_context(receive)
        fanout = tracer.start_span(
            f"fanout {message.subject}",
            context=receive_context,
            kind=SpanKind.INTERNAL,
            attributes={
                "messaging.operation.type": "process",
                "messaging.operation.name": "fanout",
                "runwire.recipients": record.recipients,
                "runwire.contract.cursor": str(message.seq),
            },
            start_time=record.received_ns,
        )
        record.trace_context = trace.set_span_in_context(fanout)
        now = time.time_ns()
        fanout.end(now)
        receive.end(now)

    def _remember(self, record: DeliveryRecord) -> None:
        """Keep recent events' records for first-delivery timing and the trace breakdown (bounded)."""
        recent = self.recent
        seq = record.frame.seq
        recent[seq] = record
        self.undelivered[seq] = record
        if len(recent) > RECENT_EVENTS:
            forgotten, _ = recent.popitem(last=False)
            self.undelivered.pop(forgotten, None)
