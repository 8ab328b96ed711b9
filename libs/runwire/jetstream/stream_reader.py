"""Ordered reads of the EVENTS stream: an ack-less push consumer that recreates itself on any gap.

One mechanism serves replay on connect, catch-up of slow clients, aggregate loads and the stream
API's single live tail: JetStream pushes messages in stream order onto one inbox, the reader checks
the consumer sequence for gaps (recreating the consumer from the last stream sequence it saw), answers
flow control only as fast as its caller drains it (bounded memory), and watches idle heartbeats: on a
cluster, one second without them means the node holding the (R1) consumer died, and the consumer is
recreated on another (tests/cluster/test_live_tail_failover.py, benchmarks/failover.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice, repeat
from operator import lt
from typing import Any, Final, NamedTuple

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from runwire.jetstream.connection import RunwireNATS
from runwire.jetstream.raw_parser import RawRun

log = logging.getLogger(__name__)

# A consumer is deemed lost when MISSED_HEARTBEATS idle heartbeats in a row do not come (1 s):
# heartbeats flow only while nothing else does, so a busy reader pays nothing, an idle one 2 small
# messages a second.
HEARTBEAT_SECONDS: Final = 0.5
MISSED_HEARTBEATS: Final = 2
# A create unanswered this long most often landed on a node that has just died and that the cluster
# still counts alive (about 2 s after a kill -9), or no meta leader is elected yet (4-9 s): a few
# quick tries, then doubling up to a cap (a request unanswered meanwhile is never answered).
RECREATE_TIMEOUT_SECONDS: Final = 0.35
RECREATE_TIMEOUT_CAP_SECONDS: Final = 2.0
QUICK_RECREATES: Final = 4
INACTIVE_THRESHOLD_SECONDS: Final = 60.0
API_TIMEOUT_SECONDS: Final = 5.0
RETRY_SECONDS: Final = 0.5


class Headers(Mapping[str, str]):
    """A stored message's NATS headers, parsed only if someone reads them (replay never does)."""

    __slots__ = ("_parsed", "_raw")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._parsed: dict[str, str] | None = None

    def _items(self) -> dict[str, str]:
        if self._parsed is None:
            parsed: dict[str, str] = {}
            for line in self._raw.split(b"\r\n")[1:]:
                name, sep, value = line.partition(b":")
                if sep:
                    parsed[name.strip().decode()] = value.strip().decode()
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, key: str) -> str:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


class StoredMessage(NamedTuple):
    """One message as stored: its stream sequence, subject, raw payload, headers and store time."""

    seq: int
    subject: str
    data: bytes
    headers: Mapping[str, str] | None
    stored_ns: int


class StreamReadError(RuntimeError):
    """The JetStream API refused to create a consumer (bad filter, missing stream, ...)."""

    def __init__(self, code: int, err_code: int, description: str) -> None:
        self.code = code
        self.err_code = err_code
        self.description = description
        super().__init__(f"JetStream error {code}/{err_code}: {description}")


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _ConsumerCreated(msgspec.Struct):
    name: str = ""
    num_pending: int = 0
    error: _ApiError | None = None


_created_decoder = msgspec.json.Decoder(_ConsumerCreated)
# A NamedTuple's own constructor costs three times as much: the hot path builds the tuple directly.
_new_stored = tuple.__new__
_encoder = msgspec.json.Encoder()


def _seconds_ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class StreamReader:
    """Reads a stream in order from a position, optionally following the live tail.

    Iterate `batches()`: each batch is a list of messages in stream order. Without `follow`, the
    iteration ends once every message that matched when it was read has been yielded (or at
    `up_to`). The consumer lives on the server only while the reader is open.
    """

    def __init__(
        self,
        nc: NATS,
        stream: str,
        filter_subjects: Sequence[str],
        *,
        start_seq: int | None = None,
        start_time: datetime | None = None,
        follow: bool = False,
        up_to: int | None = None,
        max_buffered: int = 4096,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        with_headers: bool = True,
        last_per_subject: bool = False,
    ) -> None:
        if start_seq is not None and start_time is not None:
            raise ValueError("give start_seq or start_time, not both")
        self._nc = nc
        self._stream = stream
        self._filters = list(filter_subjects)
        self._start_seq = start_seq if start_seq is not None else (None if start_time else 1)
        self._start_time = start_time
        self._follow = follow
        self._up_to = up_to
        self._max_buffered = max_buffered
        self._heartbeat = heartbeat_seconds
        self._with_headers = with_headers
        # JetStream's last-per-subject delivery: the last message of each subject first, then newer
        # ones. Without `follow` it ends once the consumer has delivered as many messages as were
        # pending when it was created (all those last ones; a few newer ones may follow).
        self._last_per_subject = last_per_subject
        self._pending_at_create: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

        self._buffer: list[StoredMessage] = []
        self._wakeup = asyncio.Event()
        self._deferred_fc: list[str] = []
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._expected_dseq = 1
        self._last_seq: int | None = None  # last stream sequence handed to the caller's buffer
        self._caught_up = False
        self._needs_reset = False
        self._failed_creates = 0
        self._last_activity = 0.0
        self._closed = False
        # Fields of this server's ack subjects (9 without a domain), learnt from the first message.
        self._ack_fields = 0

    @property
    def last_seq(self) -> int | None:
        """The stream sequence of the last message received (None before the first)."""
        return self._last_seq

    @property
    def consumer_name(self) -> str | None:
        """The server consumer's name now (it changes whenever the reader recreates it)."""
        return self._consumer

    async def _create(self, deadline: float = API_TIMEOUT_SECONDS) -> None:
        """Create the consumer (again, after a gap) starting after the last sequence seen.

        The consumer is named after its inbox, so that one whose creation timed out (placed on a
        node that has just died and that the cluster does not know dead yet) can still be deleted.
        """
        self._loop = asyncio.get_running_loop()
        await self._drop_consumer()
        # Reset before subscribing: messages may arrive before the create request is answered.
        self._expected_dseq = 1
        self._needs_reset = False
        self._last_activity = asyncio.get_running_loop().time()
        inbox = self._nc.new_inbox()
        if isinstance(self._nc, RunwireNATS):
            self._nc.reconnect_listeners.add(self._request_reset)
        if isinstance(self._nc, RunwireNATS) and self._nc.raw_delivery:
            self._sub = await self._nc.subscribe_raw(inbox, self._on_raw, payload_headers=self._with_headers)
        else:
            self._sub = await self._nc.subscribe(
                inbox, cb=self._on_message, pending_msgs_limit=-1, pending_bytes_limit=-1
            )
        name = inbox.rsplit(".", 1)[-1]
        config: dict[str, Any] = {
            "name": name,
            "deliver_subject": inbox,
            "ack_policy": "none",
            "flow_control": True,
            "idle_heartbeat": _seconds_ns(self._heartbeat),
            "mem_storage": True,
            "num_replicas": 1,
            "inactive_threshold": _seconds_ns(INACTIVE_THRESHOLD_SECONDS),
            "replay_policy": "instant",
        }
        self._pending_at_create = None
        if self._last_per_subject:
            config["deliver_policy"] = "last_per_subject"  # again after a gap: older ones are dropped
        elif self._last_seq is not None:
            config["deliver_policy"] = "by_start_sequence"
            config["opt_start_seq"] = self._last_seq + 1
        elif self._start_time is not None:
            config["deliver_policy"] = "by_start_time"
            config["opt_start_time"] = self._start_time.isoformat()
        else:
            config["deliver_policy"] = "by_start_sequence"
            config["opt_start_seq"] = max(1, self._start_seq or 1)
        if len(self._filters) == 1:
            config["filter_subject"] = self._filters[0]
        elif self._filters:
            config["filter_subjects"] = self._filters
        request = _encoder.encode({"stream_name": self._stream, "config": config, "action": "create"})
        try:
            reply = await self._nc.request(
                f"$JS.API.CONSUMER.CREATE.{self._stream}.{name}", request, timeout=deadline
            )
        except BaseException:
            self._consumer = name  # it may exist by now: drop it too
            await self._drop_consumer()
            raise
        created = _created_decoder.decode(reply.data)
        if created.error is not None:
            await self._unsubscribe()
            error = created.error
            raise StreamReadError(error.code, error.err_code, error.description)
        self._consumer = created.name
        if self._last_per_subject:
            self._pending_at_create = created.num_pending
        if not self._follow and (created.num_pending == 0 or self._delivered_all_pending()):
            self._caught_up = True
            self._wakeup.set()

    def _delivered_all_pending(self) -> bool:
        """Last-per-subject reads: this consumer has delivered every message pending at its creation."""
        pending = self._pending_at_create
        return pending is not None and self._expected_dseq - 1 >= pending

    def _on_raw(self, run: RawRun) -> list[str] | None:
        """Raw-subscription handler of a run of messages: the hot path of every stored read.

        A run of data messages with the common ack subject `$JS.ACK.<stream>.<consumer>.<delivered>.
        <stream seq>.<consumer seq>.<time ns>.<pending>` is taken a column at a time (one join and
        split of its ack subjects, `int` mapped over a column, the consumer sequences compared with
        the range they must be): what `_accept` does per message, in a few calls per run. Anything
        else (control messages, a gap, another ack form, last-per-subject reads) goes through
        `_on_raw_each`, a message at a time.
        """
        loop = self._loop
        assert loop is not None
        self._last_activity = loop.time()
        payloads = run.payloads
        count = len(payloads)
        if (
            self._ack_fields != 9
            or self._needs_reset
            or self._pending_at_create is not None
            or b"" in payloads  # a control message (or an empty stored one)
            or b"" in run.replies
        ):
            return self._on_raw_each(run)
        tokens = b".".join(run.replies).split(b".")
        if len(tokens) != 9 * count or tokens[0::9].count(b"$JS") + tokens[1::9].count(b"ACK") != 2 * count:
            return self._on_raw_each(run)
        expected = self._expected_dseq
        if list(map(int, tokens[6::9])) != list(range(expected, expected + count)):
            return self._on_raw_each(run)  # a gap: found and handled there
        seqs = list(map(int, tokens[5::9]))
        last = self._last_seq
        if (last is not None and seqs[0] <= last) or not all(map(lt, seqs, islice(seqs, 1, None))):
            return self._on_raw_each(run)  # repeats after a recreate: skipped there
        subjects = map(bytes.decode, run.subjects)
        if self._with_headers:
            headers: Iterable[Headers | None] = [None if h is None else Headers(h) for h in run.headers]
        else:
            headers = repeat(None)
        self._buffer.extend(
            map(
                _new_stored,
                repeat(StoredMessage),
                zip(seqs, subjects, payloads, headers, map(int, tokens[7::9]), strict=False),  # repeat(None)
            )
        )
        self._expected_dseq = expected + count
        self._last_seq = last = seqs[-1]
        # Without `follow` the read ends once a message says nothing is pending after it, or at `up_to`.
        if not self._follow and (b"0" in tokens[8::9] or (self._up_to is not None and last >= self._up_to)):
            self._caught_up = True
        self._wakeup.set()
        return None

    def _on_raw_each(self, run: RawRun) -> list[str] | None:
        """`_on_raw` a message at a time: control messages parsed, data messages by `_accept`."""
        answers: list[str] | None = None
        with_headers = self._with_headers
        for subject, reply, data, headers in run:
            if not data and headers is not None and headers.startswith(b"NATS/1.0 100"):
                answer = self._on_control(
                    headers[13:].split(b"\r\n", 1)[0].decode(), reply.decode(), Headers(headers)
                )
                if answer:
                    answers = [*(answers or ()), answer]
            elif reply:
                parsed = Headers(headers) if headers is not None and with_headers else None
                self._accept(subject.decode(), reply, data, parsed)
        return answers

    async def _on_message(self, msg: Msg) -> None:
        """nats-py subscription callback, for clients without raw subscriptions."""
        headers = msg.headers
        if headers is not None and "Status" in headers:
            answer = self._on_control(headers.get("Description", ""), msg.reply, headers)
            if answer:
                await self._nc.publish(answer, b"")
        elif msg.reply:
            self._accept(msg.subject, msg.reply.encode(), msg.data, headers if self._with_headers else None)

    def _on_control(self, description: str, reply: str, headers: Mapping[str, str]) -> str | None:
        """Flow control and idle heartbeats; returns a subject to answer now, if any."""
        self._last_activity = self._loop.time()  # type: ignore[union-attr]
        if description.startswith("FlowControl") and reply:
            if len(self._buffer) < self._max_buffered:
                return reply
            self._deferred_fc.append(reply)
            return None
        if description.startswith("Idle"):
            last_consumer = headers.get("Nats-Last-Consumer")
            if last_consumer is not None and int(last_consumer) != self._expected_dseq - 1:
                self._request_reset()
            stalled = headers.get("Nats-Consumer-Stalled")
            if stalled:
                if len(self._buffer) < self._max_buffered:
                    return stalled
                self._deferred_fc.append(stalled)
        return None

    def _accept(self, subject: str, reply: bytes, data: bytes, headers: Mapping[str, str] | None) -> None:
        """A data message: check the consumer sequence for gaps, then buffer it for the caller.

        The metadata comes from the ack subject `$JS.ACK.<stream>.<consumer>.<delivered>.<stream
        seq>.<consumer seq>.<time ns>.<pending>` (two more leading tokens when a domain is set).
        """
        self._last_activity = self._loop.time()  # type: ignore[union-attr]
        if self._needs_reset:
            return
        tokens = reply.split(b".")
        if len(tokens) not in (9, 11, 12) or tokens[:2] != [b"$JS", b"ACK"]:
            return  # not a JetStream delivery: nothing but the consumer publishes to this inbox
        self._ack_fields = len(tokens)
        offset = 0 if len(tokens) == 9 else 2
        seq = int(tokens[5 + offset])
        if int(tokens[6 + offset]) != self._expected_dseq:
            self._request_reset()
            return
        self._expected_dseq += 1
        if self._last_seq is not None and seq <= self._last_seq:
            if not self._follow and self._delivered_all_pending():
                self._caught_up = True
                self._wakeup.set()
            return
        self._last_seq = seq
        self._buffer.append(
            StoredMessage(
                seq, subject, data, headers if self._with_headers else None, int(tokens[7 + offset])
            )
        )
        if not self._follow and (
            tokens[8 + offset] == b"0"
            or (self._up_to is not None and seq >= self._up_to)
            or self._delivered_all_pending()
        ):
            self._caught_up = True
        self._wakeup.set()

    def _request_reset(self) -> None:
        self._needs_reset = True
        self._wakeup.set()

    async def _flush_flow_control(self) -> None:
        replies, self._deferred_fc = self._deferred_fc, []
        for reply in replies:
            await self._nc.publish(reply, b"")

    async def batches(self) -> AsyncGenerator[list[StoredMessage], None]:
        """Messages in stream order, a list at a time, as fast as the caller takes them."""
        try:
            await self._create(RECREATE_TIMEOUT_SECONDS * 2)
        except TimeoutError:  # most likely placed on a node that just died: once more, elsewhere
            await self._create()
        try:
            while True:
                if self._buffer:
                    batch, self._buffer = self._buffer, []
                    if self._deferred_fc:
                        await self._flush_flow_control()
                    yield batch
                    continue
                if self._caught_up:
                    return
                if self._needs_reset:
                    log.info(
                        "stream reader %s: gap or reconnect, recreating after %s",
                        self._consumer,
                        self._last_seq,
                    )
                    await self._safe_recreate()
                    continue
                silent = asyncio.get_running_loop().time() - self._last_activity
                left = self._heartbeat * MISSED_HEARTBEATS - silent
                if left <= 0:
                    log.info("stream reader %s: silent for %.1f s, recreating", self._consumer, silent)
                    self._request_reset()
                    continue
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=left)
        finally:
            await self.close()

    async def _safe_recreate(self) -> None:
        """Recreate the consumer, or leave the reset pending (logged) while NATS or JetStream is not
        back yet. Deadlines start short, then double up to a cap: an unanswered create most often
        sits on a node that has just died, and another attempt lands elsewhere."""
        backoff = 2 ** max(0, self._failed_creates - QUICK_RECREATES + 1)
        timeout = min(RECREATE_TIMEOUT_CAP_SECONDS, RECREATE_TIMEOUT_SECONDS * backoff)
        try:
            await self._create(timeout)
        except (nats.errors.Error, TimeoutError, StreamReadError) as exc:
            self._failed_creates += 1
            self._needs_reset = True
            log.warning("stream reader: could not recreate consumer yet: %s", exc or type(exc).__name__)
            if not isinstance(exc, TimeoutError):
                await asyncio.sleep(RETRY_SECONDS)
            return
        self._failed_creates = 0

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                if isinstance(self._nc, RunwireNATS) and self._nc.raw_delivery:
                    await self._nc.unsubscribe_raw(sub)
                else:
                    await sub.unsubscribe()

    async def _drop_consumer(self) -> None:
        await self._unsubscribe()
        name, self._consumer = self._consumer, None
        if name is not None and not self._nc.is_closed:
            # Fire and forget: the inactive threshold removes it anyway if this is lost.
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(f"$JS.API.CONSUMER.DELETE.{self._stream}.{name}", b"")

    async def close(self) -> None:
        """Remove the consumer and the inbox subscription (idempotent, safe under cancellation)."""
        if self._closed:
            return
        self._closed = True
        if isinstance(self._nc, RunwireNATS):
            self._nc.reconnect_listeners.discard(self._request_reset)
        await asyncio.shield(self._drop_consumer())
