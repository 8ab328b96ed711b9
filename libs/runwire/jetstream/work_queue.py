"""A durable work queue on EVENTS: each matching message is a unit of work, held by one taker at a time.

A durable pull consumer with explicit acks hands every message (e.g. each `ingest.job.created`) to
one of the processes pulling from it. Until that process acknowledges it, the message is its lease
on the work: kept alive by progress acks, handed back with a NAK, redelivered to another taker when
the holder stops renewing (it died) for `lease_seconds`. The consumer's ack floor is a checkpoint:
a restarted taker is handed only unfinished work, never the stream's history.
"""

from __future__ import annotations

import contextlib
from typing import Final, NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

ACK_TIMEOUT_SECONDS: Final = 2.0
# Unacknowledged messages the server lets one consumer have out: in-flight aggregates of a service.
MAX_IN_FLIGHT: Final = 100_000


class WorkItem(NamedTuple):
    """One delivery of a message: `deliveries` > 1 means an earlier holder did not finish it."""

    subject: str
    seq: int
    deliveries: int
    reply: str


class WorkQueue:
    """One durable consumer shared by every replica of a service (create once, then only bind)."""

    def __init__(self, nc: NATS, subscription: JetStreamContext.PullSubscription, name: str) -> None:
        self._nc = nc
        self._subscription = subscription
        self.name = name

    @classmethod
    async def open(
        cls, nc: NATS, *, stream: str, name: str, filter_subject: str, lease_seconds: float
    ) -> WorkQueue:
        """Bind to the durable consumer `name`, creating it when missing (its settings are then kept)."""
        js = nc.jetstream(timeout=ACK_TIMEOUT_SECONDS * 2)
        try:
            await js.consumer_info(stream, name)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(
                stream,
                ConsumerConfig(
                    durable_name=name,
                    description="runwire: in-flight aggregates, one replica at a time",
                    filter_subject=filter_subject,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=lease_seconds,
                    max_deliver=-1,
                    max_ack_pending=MAX_IN_FLIGHT,
                ),
            )
        subscription = await js.pull_subscribe_bind(name, stream)
        return cls(nc, subscription, name)

    async def take(self, batch: int, wait: float) -> list[WorkItem]:
        """Up to `batch` items, waiting at most `wait` seconds for the first (none: an empty list)."""
        try:
            messages = await self._subscription.fetch(batch, timeout=wait)
        except nats.errors.TimeoutError:
            return []
        return [_item(message) for message in messages]

    async def keep(self, item: WorkItem, *, within: float = ACK_TIMEOUT_SECONDS) -> None:
        """Renew the lease (a confirmed progress ack); raises when the server did not confirm it."""
        await self._nc.request(item.reply, b"+WPI", timeout=within)

    async def done(self, item: WorkItem) -> None:
        """The work is finished: the message is never delivered again (confirmed)."""
        await self._nc.request(item.reply, b"+ACK", timeout=ACK_TIMEOUT_SECONDS)

    async def hand_back(self, item: WorkItem, delay_seconds: float = 0.0) -> None:
        """Give the work up now, for any taker (after `delay_seconds`); best effort, never raises."""
        body = b"-NAK" if delay_seconds <= 0 else b'-NAK {"delay": %d}' % int(delay_seconds * 1e9)
        with contextlib.suppress(nats.errors.Error):
            await self._nc.publish(item.reply, body)

    async def close(self) -> None:
        """Stop pulling (the durable consumer and the leases on it stay with the server)."""
        with contextlib.suppress(nats.errors.Error):
            await self._subscription.unsubscribe()


def _item(message: Msg) -> WorkItem:
    metadata = message.metadata
    return WorkItem(message.subject, metadata.sequence.stream, metadata.num_delivered, message.reply)
