"""Which in-flight aggregates this replica drives: leases taken from a JetStream work queue.

Every replica of a service pulls from one durable work queue of the service's creation events. A
pulled message is this replica's lease on that aggregate: renewed every third of `lease_seconds`
while the aggregate is in flight, acknowledged when it ends, handed back when the replica stops.
A replica that dies stops renewing; the server then delivers the message to another replica (with
a delivery count above one: a takeover). A replica that cannot renew for most of `lease_seconds`
(cut off from the cluster) lets go by itself, before the server could hand the work to another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from runwire.contract.subjects import parse_unchecked
from runwire.jetstream.availability import is_unavailable
from runwire.jetstream.work_queue import WorkItem, WorkQueue

log = logging.getLogger(__name__)

TAKE_BATCH: Final = 16
# Takes (loading an aggregate, beginning or resuming its work) in progress at once: a backlog, e.g. the
# first start over a long history, is worked through at this pace instead of all at once.
MAX_TAKING: Final = 32
TAKE_WAIT_SECONDS: Final = 1.0
RETRY_SECONDS: Final = 0.5
RENEWALS_PER_LEASE: Final = 4
# A lease not renewed for this share of its length is given up here, before the server can reassign it.
LET_GO_SHARE: Final = 0.6

Key = tuple[str, str]


@dataclass
class Lease:
    """This replica's hold on one aggregate: the delivery that granted it and its last renewal."""

    item: WorkItem
    renewed_at: float

    @property
    def taken_over(self) -> bool:
        """Whether another holder had it before (it died or let go): the work is resumed, not begun."""
        return self.item.deliveries > 1


class Leases:
    """The leases of one replica on a service's work queue."""

    def __init__(
        self,
        queue: WorkQueue,
        lease_seconds: float,
        on_taken: Callable[[str, str, Lease], Coroutine[Any, Any, None]],
        on_lost: Callable[[str, str], None],
    ) -> None:
        self.queue = queue
        self.lease_seconds = lease_seconds
        self._on_taken = on_taken
        self._on_lost = on_lost
        self._held: dict[Key, Lease] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._taking: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()

    def holds(self, project: str, aggregate: str) -> bool:
        return (project, aggregate) in self._held

    def __len__(self) -> int:
        return len(self._held)

    def start(self) -> None:
        """Begin taking work and renewing what is held."""
        self._loops = [
            asyncio.create_task(self._take_loop(), name=f"{self.queue.name}-take"),
            asyncio.create_task(self._renew_loop(), name=f"{self.queue.name}-renew"),
        ]

    async def release(self, project: str, aggregate: str) -> None:
        """The aggregate ended: acknowledge its work so that nobody is handed it again."""
        lease = self._held.pop((project, aggregate), None)
        if lease is None:
            return
        try:
            await self.queue.done(lease.item)
        except Exception as exc:
            # Not confirmed: a later holder is handed an ended aggregate, sees so and acknowledges it.
            log.info("%s: finishing %s/%s not confirmed: %r", self.queue.name, project, aggregate, exc)

    async def hand_back(self, project: str, aggregate: str, delay_seconds: float = 0.0) -> None:
        """Give the aggregate's work to whichever replica takes it next (after `delay_seconds`)."""
        lease = self._held.pop((project, aggregate), None)
        if lease is not None:
            await self.queue.hand_back(lease.item, delay_seconds)

    async def aclose(self) -> None:
        """Stop taking and renewing, and hand every held aggregate back (another replica goes on now)."""
        for task in [*self._loops, *self._taking]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._taking, return_exceptions=True)
        held, self._held = self._held, {}
        await asyncio.gather(*(self.queue.hand_back(lease.item) for lease in held.values()))
        await self.queue.close()

    # ------------------------------------------------------------------------------ the loops

    async def _take_loop(self) -> None:
        failing = False
        while True:
            while len(self._taking) >= MAX_TAKING:
                self._room.clear()
                await self._room.wait()
            try:
                items = await self.queue.take(
                    min(TAKE_BATCH, MAX_TAKING - len(self._taking)), TAKE_WAIT_SECONDS
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_unavailable(exc):
                    log.exception("%s: taking work failed", self.queue.name)
                elif not failing:
                    log.warning("%s: work queue unavailable (%r); retrying", self.queue.name, exc)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if failing:
                log.info("%s: work queue available again", self.queue.name)
                failing = False
            now = asyncio.get_running_loop().time()
            for item in items:
                subject = parse_unchecked(item.subject)
                key = (subject.project, subject.aggregate)
                known = self._held.get(key)
                lease = Lease(item, now)
                self._held[key] = lease
                if known is not None:
                    continue  # redelivered to its holder (a renewal was late): the newer delivery counts
                task = asyncio.create_task(self._on_taken(*key, lease), name=f"{self.queue.name}:{key}")
                self._taking.add(task)
                task.add_done_callback(self._taken)

    def _taken(self, task: asyncio.Task[None]) -> None:
        self._taking.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: taking over failed", self.queue.name, exc_info=task.exception())

    async def _renew_loop(self) -> None:
        """Renew every held lease a few times per lease length; let go of any not renewed lately."""
        interval = self.lease_seconds / RENEWALS_PER_LEASE
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while True:
            tick += interval
            await asyncio.sleep(max(0.0, tick - loop.time()))
            sent = loop.time()
            leases = list(self._held.items())
            results = await asyncio.gather(
                *(self.queue.keep(lease.item, within=interval) for _, lease in leases),
                return_exceptions=True,
            )
            for (key, lease), result in zip(leases, results, strict=True):
                if self._held.get(key) is lease and not isinstance(result, BaseException):
                    lease.renewed_at = sent
            now = loop.time()
            for key, lease in list(self._held.items()):
                if now - lease.renewed_at > self.lease_seconds * LET_GO_SHARE:
                    log.warning(
                        "%s: lease on %s/%s not renewed for %.1fs; letting go",
                        self.queue.name,
                        *key,
                        now - lease.renewed_at,
                    )
                    del self._held[key]
                    try:
                        self._on_lost(*key)
                    except Exception:
                        log.exception("%s: stopping %s/%s failed", self.queue.name, *key)
