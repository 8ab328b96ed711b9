"""One client's view of the stream: replay, then live fan-out, dropping to catch-up when it lags.

The client keeps `position`: every event of its filter up to that stream sequence has been handed
over, so the next one it may receive is above it. Reading from JetStream and the live queue are
joined at an exact sequence boundary: the client attaches to the fan-out at hub position P (the
queue then holds every matching event after P), reads the stream up to P, and drops queued events
at or below its position. Nothing is skipped and nothing is handed over twice. A full queue does
not disconnect a slow client: it detaches and reads from JetStream from its position again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Final, NamedTuple

from runwire.contract.filters import EventFilter
from runwire.contract.subjects import parse_unchecked
from runwire.jetstream.event_store import EventStore
from runwire.jetstream.stream_reader import StreamReader
from runwire_stream_api.frames import EventFrames, single_line_json

if TYPE_CHECKING:
    from runwire_stream_api.delivery import DeliveryRecorder
    from runwire_stream_api.fanout import Hub

CATCH_UP_BUFFER: Final = 1024


class Control:
    """A signal in a client's item stream that is not an event."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


HEARTBEAT: Final = Control("heartbeat")
CLOSE: Final = Control("close")
IDLE: Final = Control("idle")


class Reset(NamedTuple):
    """Events after `requested` were removed by retention; delivery resumes at `earliest`."""

    earliest: int
    requested: int


Item = list[EventFrames] | Reset | Control


class ClientStream:
    """Ordered, gap-free, duplicate-free delivery of one filter, from `after` onwards."""

    def __init__(
        self,
        hub: Hub,
        store: EventStore,
        event_filter: EventFilter,
        *,
        after: int,
        queue_limit: int,
        transport: str,
        delivery: DeliveryRecorder | None = None,
    ) -> None:
        self.hub = hub
        self.delivery = delivery
        self.store = store
        self.event_filter = event_filter
        self.transport = transport
        self.position = after
        self._server_filter = event_filter.subjects()
        self._match_locally = not event_filter.subjects_are_exact
        self._queue: deque[EventFrames] = deque()
        self._queue_limit = queue_limit
        self._last_offered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._attached = False
        self._overflowed = False
        self._closed = False
        self._shutting_down = False
        self._heartbeat_due = False
        self._last_sent = 0.0
        self.catching_up = False

    # ------------------------------------------------------------------ called by the fan-out

    def offer(self, frames: EventFrames) -> None:
        """Hand over a live event (never blocks): queue it, or detach if the queue is full."""
        if frames.seq <= self._last_offered:
            return  # the same event through a second matching index entry
        self._last_offered = frames.seq
        if len(self._queue) >= self._queue_limit:
            self._overflowed = True
            self._detach()
        else:
            self._queue.append(frames)
        self._notify()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """The client went away: leave the fan-out at once and end the item stream."""
        self._closed = True
        self._detach()
        self._notify()

    def shutdown(self) -> None:
        """The server is stopping: end with a CLOSE item so the client knows to reconnect."""
        self._shutting_down = True
        self._notify()

    def _notify(self) -> None:
        """Wake the client's task if it sleeps (a bare future: cheaper than an Event per offer)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _sleep(self) -> None:
        """Sleep until `_notify`; callers check their state first, so no wake-up is lost."""
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _attach(self) -> int:
        position = self.hub.attach(self)
        self._attached = True
        self._last_offered = position
        return position

    def _detach(self) -> None:
        if self._attached:
            self._attached = False
            self.hub.detach(self)

    async def wait(self, seconds: float) -> None:
        """Wait up to `seconds` for a live event (or a close); used by long-polls between IDLE items."""
        if self._queue or self._closed or self._shutting_down:
            return
        timer = asyncio.get_running_loop().call_later(seconds, self._notify)
        try:
            await self._sleep()
        finally:
            timer.cancel()

    # ------------------------------------------------------------------ the item stream

    def heartbeat_if_idle(self, now: float, interval: float) -> None:
        """Called by the instance's heartbeat ticker: wake an idle live client to send a heartbeat."""
        if self._attached and not self._queue and now - self._last_sent >= interval:
            self._heartbeat_due = True
            self._notify()

    async def items(self, *, idle: bool = False) -> AsyncGenerator[Item, None]:
        """Batches of events in stream order, with controls.

        When live and idle it waits for events, yielding HEARTBEAT when the instance's ticker asks
        for one; with `idle=True` it yields IDLE instead of waiting (the caller then waits with
        `wait()` or stops).
        """
        loop = asyncio.get_running_loop()
        try:
            while not self._closed:
                if self._shutting_down:
                    yield CLOSE
                    return
                if not self._attached:
                    async for item in self._catch_up():
                        yield item
                    self._last_sent = loop.time()
                    continue
                if not self._queue and not self._overflowed:
                    if idle:
                        yield IDLE
                        continue
                    if self._heartbeat_due:
                        self._heartbeat_due = False
                        self._last_sent = loop.time()
                        yield HEARTBEAT
                        continue
                    await self._sleep()
                    continue
                batch = self._drain()
                if batch:
                    self._last_sent = loop.time()
                    yield batch
                if self._overflowed:
                    self._overflowed = False  # already detached: catch up from the position
        finally:
            self._detach()
            self.catching_up = False

    def _drain(self) -> list[EventFrames]:
        queue, self._queue = self._queue, deque()
        position = self.position
        batch = [frames for frames in queue if frames.seq > position]
        if batch:
            self.position = batch[-1].seq
        return batch

    async def _catch_up(self) -> AsyncGenerator[Item, None]:
        """Read from JetStream until level with the fan-out, then attach at the exact boundary."""
        self.catching_up = True
        self.hub.metrics.catch_ups.labels(self.transport).inc()
        try:
            bounds = await self.store.bounds()
            if self.position < bounds.first_seq - 1:
                yield Reset(earliest=bounds.first_seq, requested=self.position)
                self.position = bounds.first_seq - 1
            # Bulk of the backlog without holding a queue, then the last stretch attached.
            target = self.hub.position
            if self.position < target:
                async for batch in self._read(target):
                    yield batch
            if self._closed or self._shutting_down:
                return
            boundary = self._attach()
            if self.position < boundary:
                async for batch in self._read(boundary):
                    yield batch
            self.position = max(self.position, boundary)
        finally:
            self.catching_up = False

    async def _read(self, up_to: int) -> AsyncGenerator[list[EventFrames], None]:
        """Matching stored events in (position, up_to]; afterwards position >= up_to."""
        reader = StreamReader(
            self.store.nc,
            self.store.stream,
            self._server_filter,
            start_seq=self.position + 1,
            up_to=up_to,
            max_buffered=CATCH_UP_BUFFER,
            with_headers=False,
        )
        matches = self.event_filter.matches if self._match_locally else None
        servable = self.hub.verdicts.servable
        async with contextlib.aclosing(reader.batches()) as batches:
            async for messages in batches:
                batch: list[EventFrames] = []
                for message in messages:
                    if message.seq <= self.position:
                        continue
                    if not servable(message):
                        continue  # never served; the position still moves past it below
                    subject = parse_unchecked(message.subject)  # servable: events.<p>.<a>.<type>
                    if matches is not None and not matches(subject):
                        continue
                    batch.append(
                        EventFrames(
                            message.seq,
                            subject.project,
                            subject.aggregate,
                            subject.type,
                            single_line_json(message.data),
                            message.stored_ns,
                        )
                    )
                if batch:
                    self.position = batch[-1].seq
                    yield batch
                if self._closed or self._shutting_down:
                    return
        self.position = max(self.position, up_to)
