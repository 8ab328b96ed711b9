"""The live fan-out: one JetStream consumer per instance reads the tail of EVENTS and hands each
event, decoded once and encoded once per transport, to every matching client by reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from nats.aio.client import Client as NATS

from runwire.event_store import EventStore
from runwire.stream_reader import StoredMessage, StreamReader
from runwire.subjects import STREAM_SUBJECTS
from runwire_stream_api.frames import EventFrames, single_line_json
from runwire_stream_api.index import Subscriber, SubscriptionIndex
from runwire_stream_api.metrics import StreamMetrics

log = logging.getLogger(__name__)

LIVE_BUFFER: Final = 8192
RETRY_SECONDS: Final = 1.0


class Hub:
    """Owns the live tail consumer and the subscription index; `position` is the last sequence
    it has dispatched, the boundary at which clients join."""

    def __init__(self, nc: NATS, store: EventStore, metrics: StreamMetrics) -> None:
        self.nc = nc
        self.store = store
        self.metrics = metrics
        self.index = SubscriptionIndex()
        self.position = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin at the current end of the stream: earlier events are served by catch-up reads."""
        self.position = (await self.store.bounds()).last_seq
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
            reader = StreamReader(
                self.nc,
                self.store.stream,
                [STREAM_SUBJECTS],
                start_seq=self.position + 1,
                follow=True,
                max_buffered=LIVE_BUFFER,
            )
            try:
                async with contextlib.aclosing(reader.batches()) as batches:
                    async for batch in batches:
                        self._dispatch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live tail interrupted at %d (%s); resuming", self.position, exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _dispatch(self, batch: list[StoredMessage]) -> None:
        match = self.index.match
        received = self.metrics.events_in
        for message in batch:
            seq = message.seq
            if seq <= self.position:
                continue
            received.inc()
            parts = message.subject.split(".", 3)
            if len(parts) != 4:
                self.metrics.invalid_events.inc()
                self.position = seq
                continue
            _, project, aggregate, type_ = parts
            subscribers = match(project, aggregate, type_)
            if subscribers:
                data = single_line_json(message.data)
                if data is not None:
                    frames = EventFrames(seq, project, aggregate, type_, data, message.stored_ns)
                    for subscriber in subscribers:
                        subscriber.offer(frames)
                else:
                    self.metrics.invalid_events.inc()
            self.position = seq
