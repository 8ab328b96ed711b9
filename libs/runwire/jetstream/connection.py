"""Connecting to NATS the same way in every runwire process.

The client is nats-py's, plus raw subscriptions: their handlers receive the wire bytes straight
from the protocol parser, without nats-py building a message object, parsing its headers and
queueing it for a per-subscription task. Stream reads, the hot path of replay, use them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

# (subject, reply, payload, raw headers or None) -> a subject to answer with an empty message, or None
RawHandler = Callable[[bytes, bytes, bytes, bytes | None], str | None]


class RunwireNATS(NATS):
    """nats-py's client with `subscribe_raw`."""

    def __init__(self) -> None:
        super().__init__()
        self._raw_handlers: dict[int, RawHandler] = {}
        self.reconnect_listeners: set[Callable[[], None]] = set()

    def notify_reconnected(self) -> None:
        """Tell stream readers the server may have lost their consumers (a restart): recreate now."""
        for listener in list(self.reconnect_listeners):
            listener()

    async def subscribe_raw(self, subject: str, handler: RawHandler) -> Subscription:
        """Subscribe with a synchronous handler of raw bytes; remove it with `unsubscribe_raw`."""
        subscription = await self.subscribe(subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
        self._raw_handlers[subscription._id] = handler
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


async def connect_nats(servers: list[str], name: str) -> RunwireNATS:
    """A connection that reconnects forever: a broker restart must not end a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats (%s): %s", name, exc)

    async def on_disconnected() -> None:
        if not client.is_closed:
            log.warning("nats (%s): disconnected", name)

    async def on_reconnected() -> None:
        log.info("nats (%s): reconnected", name)
        client.notify_reconnected()

    client = RunwireNATS()
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
