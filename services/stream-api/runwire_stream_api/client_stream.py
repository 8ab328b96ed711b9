"""One client's view of the stream: replay, then live fan-out, dropping to catch-up when it lags.

The client keeps `position`: every event of its filter up to that stream sequence has been handed
over, so the next one it may receive is above it. Reading from JetStream and the live queue are
joined at an exact sequence boundary: the client attaches to the fan-out at hub position P (the
queue then holds every matching event after P), reads the stream up to P, and drops queued events
at or below its position. Nothing is skipped and nothing is handed over twice. A full queue does
not disconnect a slow client: it detaches and reads from JetStream from its position again.

Its phase is one `Phase` value: BEHIND (reads the store, not in the fan-out), JOINING (in the
fan-out, reading the last stretch up to the boundary), LIVE (fed by the fan-out), STOPPING (the
server stops: a CLOSE item is next) and CLOSED (the client went away).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

from runwire.contract.filters import EventFilter
from runwire.jetstream.event_store import EventStore
from runwire_stream_api.frames import Frame, stored_frames
from runwire_stream_api.snapshot import read_snapshot

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


Item = list[Frame] | Reset | Control


class DirectWriter(Protocol):
    """A transport's way to write to an idle live client's socket from the fan-out, with no task
    wake-up per event (SSE over uvicorn: sse.SSESocket). Only while `writable`."""

    @property
    def writable(self) -> bool: ...

    def write_frame(self, frame: Frame) -> None: ...

    def write_heartbeat(self) -> None: ...


class Phase(enum.Enum):
    """Where a client stream is in its life (see the module docstring)."""

    BEHIND = "behind"
    JOINING = "joining"
    LIVE = "live"
    STOPPING = "stopping"
    CLOSED = "closed"


_FED: Final = (Phase.JOINING, Phase.LIVE)  # in the fan-out's index: offers are queued


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
        on_catch_up: Callable[[], None] | None = None,
        snapshot: bool = False,
    ) -> None:
        self.hub = hub
        self.delivery = delivery
        self.store = store
        self.event_filter = event_filter
        self.transport = transport
        self._phase = Phase.BEHIND
        self._position = after
        self._snapshot = snapshot  # from=snapshot: the last event of each aggregate comes first
        self._on_catch_up = on_catch_up
        self._queue: list[Frame] = []  # a list: an empty deque costs 600 bytes per client
        self._queue_limit = queue_limit
        self._waiter: asyncio.Future[None] | None = None
        self._heartbeat_due = False
        self._last_sent = 0.0
        self._direct: DirectWriter | None = None

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def position(self) -> int:
        """Every matching event up to this stream sequence has been handed over."""
        return self._position

    @property
    def catching_up(self) -> bool:
        """Reading from JetStream rather than from the fan-out."""
        return self._phase is Phase.BEHIND or self._phase is Phase.JOINING

    @property
    def queued(self) -> int:
        return len(self._queue)

    def write_directly(self, writer: DirectWriter) -> None:
        """Let the fan-out and the heartbeat ticker write to this client's socket while it is idle."""
        self._direct = writer

    # ------------------------------------------------------------------ called by the fan-out

    def offer(self, frame: Frame, now: float) -> bool:
        """Hand over a live event (never blocks); True if it was written to the socket now.

        An idle live client (its task asleep, nothing queued, so nothing of its own in flight)
        whose socket takes the bytes gets them written here, in order; otherwise the event is
        queued for its task, or the client leaves the fan-out if its queue is full.
        """
        direct = self._direct
        if (
            direct is not None
            and self._waiter is not None
            and self._phase is Phase.LIVE
            and not self._queue
            and direct.writable
        ):
            if frame.seq <= self._position:
                return False
            direct.write_frame(frame)
            self._position = frame.seq
            self._last_sent = now
            return True
        if len(self._queue) >= self._queue_limit:
            if self._phase in _FED:
                self._phase = Phase.BEHIND  # the queued events go out first, then a catch-up
            self.hub.detach(self)
        else:
            self._queue.append(frame)
        self._notify()
        return False

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """The client went away: leave the fan-out at once and end the item stream."""
        self._phase = Phase.CLOSED
        self.hub.detach(self)
        self._notify()

    def shutdown(self) -> None:
        """The server is stopping: end with a CLOSE item so the client knows to reconnect."""
        if self._phase is not Phase.CLOSED:
            self._phase = Phase.STOPPING
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

    def _ending(self) -> bool:
        return self._phase is Phase.CLOSED or self._phase is Phase.STOPPING

    async def wait(self, seconds: float) -> None:
        """Wait up to `seconds` for a live event (or a close); used by long-polls between IDLE items."""
        if self._queue or self._ending():
            return
        timer = asyncio.get_running_loop().call_later(seconds, self._notify)
        try:
            await self._sleep()
        finally:
            timer.cancel()

    # ------------------------------------------------------------------ the item stream

    @property
    def finished(self) -> bool:
        """Closed, or closing because the server stops: no heartbeat is due any more."""
        return self._ending()

    def heartbeat_if_idle(self, now: float, interval: float) -> float:
        """Called by the instance's heartbeat ticker (heartbeats.py): an idle live client gets a
        heartbeat, written here when its socket takes it, else by its task. Returns the loop time
        at which the next one may be due."""
        if self._phase is not Phase.LIVE or self._queue:
            return now  # busy or catching up: look again at the next tick
        due = self._last_sent + interval
        if now < due:
            return due
        direct = self._direct
        if direct is not None and self._waiter is not None and direct.writable:
            direct.write_heartbeat()
            self._last_sent = now
            return now + interval
        self._heartbeat_due = True
        self._notify()
        return now + interval

    async def items(self, *, idle: bool = False, limit: int | None = None) -> AsyncGenerator[Item, None]:
        """Batches of events in stream order, with controls.

        When live and idle it waits for events, yielding HEARTBEAT when the instance's ticker asks
        for one; with `idle=True` it yields IDLE instead of waiting (the caller then waits with
        `wait()` or stops). With `limit`, it ends after handing over that many events, and
        `position` is the last of them.
        """
        loop = asyncio.get_running_loop()
        budget = limit
        try:
            while True:
                phase = self._phase
                if phase is Phase.CLOSED:
                    return
                if phase is Phase.STOPPING:
                    yield CLOSE
                    return
                if self._queue:
                    batch = self._drain(budget)
                    if batch:
                        self._last_sent = loop.time()
                        yield batch
                        if budget is not None:
                            budget -= len(batch)
                            if budget <= 0:
                                return
                    continue
                if phase is Phase.BEHIND:
                    async with contextlib.aclosing(self._catch_up()) as stored:
                        async for item in stored:
                            if isinstance(item, list) and budget is not None:
                                item = self._within(item, budget)
                                budget -= len(item)
                            yield item
                            if budget is not None and budget <= 0:
                                return
                    self._last_sent = loop.time()
                    continue
                if idle:
                    yield IDLE
                    continue
                if self._heartbeat_due:
                    self._heartbeat_due = False
                    self._last_sent = loop.time()
                    yield HEARTBEAT
                    continue
                await self._sleep()
        finally:
            self.hub.detach(self)
            self._phase = Phase.CLOSED

    def _within(self, batch: list[Frame], budget: int) -> list[Frame]:
        """At most `budget` events of a batch; the position moves back to the last one kept."""
        if len(batch) > budget:
            batch = batch[:budget]
            self._position = batch[-1].seq
        return batch

    def _drain(self, budget: int | None) -> list[Frame]:
        """Queued events above the position (at most `budget`); the rest stay queued."""
        position = self._position
        queue = self._queue
        if budget is None or len(queue) <= budget:
            self._queue = []
        else:
            queue, self._queue = queue[:budget], queue[budget:]
        batch = [frame for frame in queue if frame.seq > position]
        if batch:
            self._position = batch[-1].seq
        return batch

    async def _catch_up(self) -> AsyncGenerator[Item, None]:
        """Read from JetStream until level with the fan-out, then join it at the exact boundary."""
        if self._on_catch_up is not None:
            self._on_catch_up()
        if self._snapshot:
            self._snapshot = False
            snapshot = await read_snapshot(self.store, self.event_filter, self.hub.verdicts.servable)
            # Its frames are at or below the boundary; everything matching above it comes next.
            self._position = max(self._position, snapshot.boundary)
            if snapshot.frames:
                yield snapshot.frames
            if self._ending():
                return
        bounds = await self.store.bounds()
        if self._position < bounds.first_seq - 1:
            yield Reset(earliest=bounds.first_seq, requested=self._position)
            self._position = bounds.first_seq - 1
        # Bulk of the backlog without holding a queue, then the last stretch attached.
        target = self.hub.position
        if self._position < target:
            async for batch in self._read(target):
                yield batch
        if self._phase is not Phase.BEHIND:
            return  # closed or stopping meanwhile
        boundary = self.hub.attach(self)
        self._phase = Phase.JOINING
        if self._position < boundary:
            async for batch in self._read(boundary):
                yield batch
        self._position = max(self._position, boundary)
        if self._phase is Phase.JOINING:
            self._phase = Phase.LIVE  # else: overflowed (BEHIND), closed or stopping meanwhile

    async def _read(self, up_to: int) -> AsyncGenerator[list[Frame], None]:
        """Matching stored events in (position, up_to]; afterwards position >= up_to."""
        batches = self.store.read_batches(
            self.event_filter,
            after=self._position,
            up_to=up_to,
            max_buffered=CATCH_UP_BUFFER,
            with_headers=False,
            select=self.hub.verdicts.servable_of,  # junk is never served; the position moves past it
        )
        sse = self.transport == "sse"
        async with contextlib.aclosing(batches):
            async for messages in batches:
                batch = stored_frames(messages, sse=sse)  # servable: events.<p>.<a>.<t>
                self._position = batch[-1].seq
                yield batch
                if self._ending():
                    return
        self._position = max(self._position, up_to)
