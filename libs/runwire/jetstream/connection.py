"""Connecting to NATS the same way in every runwire process, with raw delivery for stream reads.

Raw delivery is the replay fast path (about 1.5x the events/s of nats-py's message objects on
benchmarks/fanout.py's replay): a subscription's handler receives the wire bytes straight from the
protocol parser, without nats-py building a `Msg`, parsing its headers and queueing it for a
per-subscription task. It rests on two nats-py internals, kept in this module only: the parser's call
of `Client._process_msg(sid, subject, reply, data, headers)` and a subscription's id (`_id`, the sid
of those calls; a JetStream delivery carries the stored subject, not the inbox, so the sid is the
only key). It is used only where both have the shape this code was tested with (nats-py is pinned
to the tested range); otherwise readers take nats-py's public subscriptions.
tests/libs/test_jetstream_adapter.py runs the adapter's contract over both paths.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Final

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

# (subject, reply, payload, raw headers or None) -> a subject to answer with an empty message, or None
RawHandler = Callable[[bytes, bytes, bytes, bytes | None], str | None]


def _internals_are_known() -> bool:
    """Whether nats-py's message hook and subscription id have the shape the raw path relies on."""
    hook = getattr(NATS, "_process_msg", None)
    if hook is None or list(inspect.signature(Subscription.__init__).parameters)[:3] != [
        "self",
        "conn",
        "id",
    ]:
        return False
    return list(inspect.signature(hook).parameters) == ["self", "sid", "subject", "reply", "data", "headers"]


RAW_DELIVERY: Final = _internals_are_known()


class RunwireNATS(NATS):
    """nats-py's client with raw subscriptions (`subscribe_raw`) where `raw_delivery` holds."""

    def __init__(self, *, raw_delivery: bool = RAW_DELIVERY) -> None:
        super().__init__()
        self.raw_delivery = raw_delivery and RAW_DELIVERY
        self._raw_handlers: dict[int, RawHandler] = {}  # by subscription id (sid)
        self.reconnect_listeners: set[Callable[[], None]] = set()

    @property
    def raw_subscriptions(self) -> int:
        """Raw subscriptions open now (one per stream reader on the fast path)."""
        return len(self._raw_handlers)

    def notify_reconnected(self) -> None:
        """Tell stream readers the server may have lost their consumers (a restart): recreate now."""
        for listener in list(self.reconnect_listeners):
            listener()

    async def subscribe_raw(self, subject: str, handler: RawHandler) -> Subscription:
        """Subscribe with a synchronous handler of raw bytes; remove it with `unsubscribe_raw`.
        Only while `raw_delivery` holds."""
        if not self.raw_delivery:
            raise RuntimeError("raw delivery is off for this connection")
        subscription = await self.subscribe(subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
        self._raw_handlers[subscription._id] = handler  # `id` of Subscription(conn, id, ...)
        return subscription

    async def unsubscribe_raw(self, subscription: Subscription) -> None:
        self._raw_handlers.pop(subscription._id, None)
        await subscription.unsubscribe()

    async def _process_msg(  # nats-py's hook for every MSG/HMSG the parser completes
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handler = self._raw_handlers.get(sid)
        if handler is None:
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        answer = handler(subject, reply, data, headers or None)
        if answer:
            await self.publish(answer, b"")


async def connect_nats(servers: list[str], name: str, *, raw_delivery: bool = RAW_DELIVERY) -> RunwireNATS:
    """A connection that reconnects forever: a broker restart must not end a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats (%s): %s", name, exc)

    async def on_disconnected() -> None:
        if not client.is_closed:
            log.warning("nats (%s): disconnected", name)

    async def on_reconnected() -> None:
        log.info("nats (%s): reconnected", name)
        client.notify_reconnected()

    client = RunwireNATS(raw_delivery=raw_delivery)
    await client.connect(
        servers=servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        pending_size=64 * 1024 * 1024,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    return client
