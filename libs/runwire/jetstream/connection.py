"""Connecting to NATS the same way in every runwire process, with raw delivery for stream reads.

Raw delivery is the replay fast path: a subscription's handler receives runs of messages as wire
bytes, without nats-py building a `Msg`, parsing its headers and queueing it for a per-subscription
task. With `fast_parser` (raw_parser.py) the messages of raw subscriptions are also parsed in one
synchronous pass over each read (with the batch work after it, about half the stream API's CPU per
replayed event, benchmarks/fanout.py --scenario replay); without it nats-py's parser calls
`Client._process_msg(sid, subject, reply, data, headers)` per message and this client hands the
handler a run of one.
It rests on nats-py internals, kept in this module and raw_parser.py only: that hook, a
subscription's id (`_id`, the sid of those calls; a JetStream delivery carries the stored subject,
not the inbox, so the sid is the only key) and, for the fast parser, the parser's state. Each is
used only where it has the shape this code was tested with (nats-py is pinned to the tested range);
otherwise readers take the slower path, down to nats-py's public subscriptions.
tests/libs/test_jetstream_adapter.py runs the adapter's contract over all three paths.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Final

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from runwire.jetstream.raw_parser import RawHandler, RawParser, RawRun, parser_is_known

log = logging.getLogger(__name__)


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
FAST_PARSER: Final = RAW_DELIVERY and parser_is_known()


class RunwireNATS(NATS):
    """nats-py's client with raw subscriptions (`subscribe_raw`) where `raw_delivery` holds, parsed
    by RawParser where `fast_parser` holds too."""

    def __init__(self, *, raw_delivery: bool = RAW_DELIVERY, fast_parser: bool = FAST_PARSER) -> None:
        super().__init__()
        self.raw_delivery = raw_delivery and RAW_DELIVERY
        self.fast_parser = self.raw_delivery and fast_parser and FAST_PARSER
        self._raw_parser: RawParser | None = None
        if self.fast_parser:
            self._raw_parser = RawParser(self)
            self._ps = self._raw_parser
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

    async def subscribe_raw(
        self, subject: str, handler: RawHandler, *, payload_headers: bool = True
    ) -> Subscription:
        """Subscribe with a synchronous handler of runs of raw messages; remove it with
        `unsubscribe_raw`. Without `payload_headers` the handler may get None for the headers of a
        message with a payload (it always gets those of a message without one). Only while
        `raw_delivery` holds."""
        if not self.raw_delivery:
            raise RuntimeError("raw delivery is off for this connection")
        subscription = await self.subscribe(subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
        sid = subscription._id  # `id` of Subscription(conn, id, ...)
        self._raw_handlers[sid] = handler
        if self._raw_parser is not None:
            self._raw_parser.add(sid, handler, payload_headers=payload_headers)
        return subscription

    async def unsubscribe_raw(self, subscription: Subscription) -> None:
        self._raw_handlers.pop(subscription._id, None)
        if self._raw_parser is not None:
            self._raw_parser.remove(subscription._id)
        await subscription.unsubscribe()

    async def _process_msg(  # nats-py's hook for every MSG/HMSG its parser completes
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handler = self._raw_handlers.get(sid)
        if handler is None:
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        answers = handler(RawRun.of([(subject, reply, data, headers or None)]))
        if answers:
            for answer in answers:
                await self.publish(answer, b"")


async def connect_nats(
    servers: list[str], name: str, *, raw_delivery: bool = RAW_DELIVERY, fast_parser: bool = FAST_PARSER
) -> RunwireNATS:
    """A connection that reconnects forever: a broker restart must not end a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats (%s): %s", name, exc)

    async def on_disconnected() -> None:
        if not client.is_closed:
            log.warning("nats (%s): disconnected", name)

    async def on_reconnected() -> None:
        log.info("nats (%s): reconnected", name)
        client.notify_reconnected()

    client = RunwireNATS(raw_delivery=raw_delivery, fast_parser=fast_parser)
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
