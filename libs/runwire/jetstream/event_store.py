"""The event store on JetStream: the EVENTS stream, appends with dedup and optimistic concurrency, reads.

State lives only here. An append carries `Nats-Msg-Id` (see `dedup_id`: retries are idempotent) and, when the
caller names the aggregate version it decided against, `Nats-Expected-Last-Subject-Sequence` on the
aggregate's subject filter, so two writers can never both extend the same version. Several events
of one command go in one atomic batch: all are stored, contiguously, or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from runwire.contract import subjects
from runwire.contract.envelope import CloudEvent, decode_event, encode_event
from runwire.contract.filters import EventFilter
from runwire.contract.stored_check import check_stored, stored_event
from runwire.jetstream.stream_reader import StoredMessage, StreamReader
from runwire.ops.settings import Settings
from runwire.ops.telemetry import Telemetry, context_from, current_traceparent, global_telemetry

STREAM_NAME: Final = "EVENTS"
MAX_BATCH: Final = 1000
PUBLISH_TIMEOUT_SECONDS: Final = 5.0
API_TIMEOUT_SECONDS: Final = 5.0
READ_BUFFER: Final = 4096

# JetStream error codes this module interprets.
log = logging.getLogger(__name__)

ERR_WRONG_LAST_SEQUENCE: Final = 10071
# A clustered stream's leader answers the same conflict with another code (10164, "wrong last sequence").
ERR_WRONG_LAST_SEQUENCE_CLUSTERED: Final = 10164
CONFLICT_CODES: Final = frozenset({ERR_WRONG_LAST_SEQUENCE, ERR_WRONG_LAST_SEQUENCE_CLUSTERED})
ERR_BATCH_DUPLICATE_ID: Final = 10201
ERR_STREAM_NOT_FOUND: Final = 10059
ERR_NO_MESSAGE_FOUND: Final = 10037


def dedup_id(event: CloudEvent) -> str:
    """The `Nats-Msg-Id` of an event: its CloudEvents identity within a project, `<project> <source> <id>`.

    Single spaces separate the parts unambiguously (none of them may contain a space). Raw NATS
    producers set the same header, so JetStream deduplicates them against HTTP publishes too.
    """
    return f"{event.project} {event.source} {event.id}"


class StreamSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the EVENTS stream is configured (file storage always)."""

    replicas: int = 1
    dedup_window_seconds: float = 120.0
    max_age_seconds: float = 0.0
    max_bytes: int = -1
    max_msgs: int = -1
    max_msg_size: int = 1024 * 1024


# The settings an operator chooses (replicas, retention, dedup window): kept as the stream has them.
OPERATOR_KEYS: Final = frozenset(
    {"num_replicas", "duplicate_window", "max_age", "max_bytes", "max_msgs", "max_msg_size"}
)


class StreamSettingDrift(msgspec.Struct, frozen=True):
    """One setting where the stream and this process's configuration differ."""

    stream: object
    configured: object


class ConcurrencyError(Exception):
    """The aggregate moved on since the caller read it: reload, decide again, retry."""

    def __init__(self, project: str, aggregate: str, expected: int, actual: int | None) -> None:
        self.project = project
        self.aggregate = aggregate
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"aggregate {project}/{aggregate}: expected last sequence {expected}, stream has {actual}"
        )


class StoreError(Exception):
    """The store refused or could not take an append (not a concurrency conflict)."""

    def __init__(self, message: str, *, code: int = 0, err_code: int = 0, retryable: bool = False) -> None:
        self.code = code
        self.err_code = err_code
        self.retryable = retryable
        super().__init__(message)


class AppendResult(msgspec.Struct, frozen=True):
    """Where the events were stored; `duplicate` when they already were (an idempotent retry)."""

    seqs: list[int]
    duplicate: bool = False

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]


class StoredEvent(msgspec.Struct, frozen=True):
    """An event read back from the stream with its sequence (the cursor) and store time."""

    seq: int
    event: CloudEvent
    stored_ns: int


class StreamBounds(msgspec.Struct, frozen=True):
    """The sequences currently in the stream: first_seq > last_seq when it is empty."""

    first_seq: int
    last_seq: int
    messages: int


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    count: int = 0
    error: _ApiError | None = None


class _StreamState(msgspec.Struct):
    messages: int = 0
    first_seq: int = 0
    last_seq: int = 0


class _StreamInfo(msgspec.Struct):
    state: _StreamState | None = None
    config: dict[str, object] | None = None
    error: _ApiError | None = None


class _MsgGetResult(msgspec.Struct):
    seq: int = 0
    subject: str = ""
    data: bytes = b""


class _MsgGet(msgspec.Struct):
    message: _MsgGetResult | None = None
    error: _ApiError | None = None


_puback = msgspec.json.Decoder(_PubAck)
_stream_info = msgspec.json.Decoder(_StreamInfo)
_msg_get = msgspec.json.Decoder(_MsgGet)
_json = msgspec.json.Encoder()
_WRONG_LAST_RE = re.compile(r"wrong last sequence: (\d+)")


def stream_settings(settings: Settings) -> StreamSettings:
    """The EVENTS stream configuration that the RUNWIRE_* settings ask for."""
    return StreamSettings(
        replicas=settings.stream_replicas,
        dedup_window_seconds=settings.dedup_window_seconds,
        max_age_seconds=settings.stream_max_age_seconds,
        max_bytes=settings.stream_max_bytes,
        max_msgs=settings.stream_max_msgs,
    )


def stream_config(settings: StreamSettings, name: str = STREAM_NAME) -> dict[str, object]:
    """The JetStream stream configuration for EVENTS."""
    return {
        "name": name,
        "subjects": [subjects.STREAM_SUBJECTS],
        "retention": "limits",
        "storage": "file",
        "discard": "old",
        "num_replicas": settings.replicas,
        "duplicate_window": int(settings.dedup_window_seconds * 1e9),
        "max_age": int(settings.max_age_seconds * 1e9),
        "max_bytes": settings.max_bytes,
        "max_msgs": settings.max_msgs,
        "max_msg_size": settings.max_msg_size,
        "max_msgs_per_subject": -1,
        "max_consumers": -1,
        "allow_direct": True,
        "allow_atomic": True,
    }


@dataclass
class _Sending:
    """Events on their way to the stream, with their producer spans and, once stored, sequences."""

    events: Sequence[CloudEvent]
    spans: list[Span] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)


class EventStore:
    """Appends and reads CloudEvents on the EVENTS stream over one NATS connection."""

    def __init__(self, nc: NATS, stream: str = STREAM_NAME, telemetry: Telemetry | None = None) -> None:
        self.nc = nc
        self.stream = stream
        self.telemetry = telemetry or global_telemetry()
        self.settings_drift: dict[str, StreamSettingDrift] = {}

    async def _api(self, subject: str, payload: object = None) -> bytes:
        body = b"" if payload is None else _json.encode(payload)
        try:
            reply = await self.nc.request(f"$JS.API.{subject}", body, timeout=API_TIMEOUT_SECONDS)
        except nats.errors.NoRespondersError as exc:
            raise StoreError("JetStream is not available", retryable=True) from exc
        except nats.errors.TimeoutError as exc:
            raise StoreError("JetStream API timed out", retryable=True) from exc
        return reply.data

    async def ensure_stream(self, settings: StreamSettings | None = None) -> None:
        """Create EVENTS when missing; never change an existing stream's replicas or limits.

        Several processes with different settings may start against one stream: the first creates it,
        the others keep what is there and report the difference (`settings_drift`, logged and shown by
        /readyz). Capabilities runwire needs (subjects, atomic batches, direct gets) are added if absent.
        Changing replicas or limits is an explicit admin command (`python -m runwire_dev.stream`).
        """
        config = stream_config(settings or StreamSettings(), self.stream)
        info = _stream_info.decode(await self._api(f"STREAM.INFO.{self.stream}"))
        if info.error is not None and info.error.err_code != ERR_STREAM_NOT_FOUND:
            raise StoreError(info.error.description, code=info.error.code, err_code=info.error.err_code)
        if info.error is not None or info.config is None:
            await self._configure("CREATE", config)
            return
        existing = info.config
        self.settings_drift = {
            key: StreamSettingDrift(stream=existing.get(key), configured=config[key])
            for key in OPERATOR_KEYS
            if existing.get(key) != config[key]
        }
        if self.settings_drift:
            log.warning(
                "stream %s keeps its settings (%s); change them with `python -m runwire_dev.stream --apply`",
                self.stream,
                ", ".join(
                    f"{key}={drift.stream} where this process is configured with {drift.configured}"
                    for key, drift in self.settings_drift.items()
                ),
            )
        missing = {
            key: value
            for key, value in config.items()
            if key not in OPERATOR_KEYS and existing.get(key) != value
        }
        if missing:
            await self._configure("UPDATE", {**existing, **missing})

    async def apply_settings(self, settings: StreamSettings) -> dict[str, StreamSettingDrift]:
        """The admin command: change EVENTS to these settings; returns what changed (old -> new)."""
        config = stream_config(settings, self.stream)
        info = _stream_info.decode(await self._api(f"STREAM.INFO.{self.stream}"))
        if info.error is not None or info.config is None:
            await self._configure("CREATE", config)
            return {}
        changes = {
            key: StreamSettingDrift(stream=info.config.get(key), configured=value)
            for key, value in config.items()
            if info.config.get(key) != value
        }
        if changes:
            await self._configure("UPDATE", {**info.config, **config})
        self.settings_drift = {}
        return changes

    async def replicas(self) -> int:
        """The replica count EVENTS has now (key-value buckets follow it)."""
        info = _stream_info.decode(await self._api(f"STREAM.INFO.{self.stream}"))
        if info.error is not None or info.config is None:
            raise StoreError(f"stream {self.stream} unavailable", retryable=True)
        replicas = info.config.get("num_replicas", 1)
        return replicas if isinstance(replicas, int) else 1

    async def _configure(self, verb: str, config: dict[str, object]) -> None:
        result = _stream_info.decode(await self._api(f"STREAM.{verb}.{self.stream}", config))
        if result.error is not None:
            raise StoreError(
                f"cannot {verb.lower()} stream {self.stream}: {result.error.description}",
                code=result.error.code,
                err_code=result.error.err_code,
            )

    async def bounds(self) -> StreamBounds:
        """First and last sequence now in the stream."""
        info = _stream_info.decode(await self._api(f"STREAM.INFO.{self.stream}"))
        if info.error is not None or info.state is None:
            description = info.error.description if info.error else "no state"
            raise StoreError(f"stream {self.stream}: {description}", retryable=True)
        state = info.state
        return StreamBounds(first_seq=state.first_seq, last_seq=state.last_seq, messages=state.messages)

    async def seq_at_time(self, since: datetime) -> int | None:
        """The sequence of the first message stored at or after `since` (None if there is none)."""
        data = await self._api(f"STREAM.MSG.GET.{self.stream}", {"start_time": since.isoformat()})
        result = _msg_get.decode(data)
        if result.message is None:
            return None
        return result.message.seq

    async def last_event(self, subject_filter: str) -> CloudEvent | None:
        """The last event stored on `subject_filter` (wildcards allowed), in one request: how an
        aggregate ended can be told without reading its history. None when there is none or the
        last message there is not a valid event."""
        data = await self._api(f"STREAM.MSG.GET.{self.stream}", {"last_by_subj": subject_filter})
        result = _msg_get.decode(data)
        if result.error is not None:
            if result.error.err_code == ERR_NO_MESSAGE_FOUND:
                return None
            raise StoreError(
                f"stream {self.stream}: {result.error.description}",
                code=result.error.code,
                err_code=result.error.err_code,
                retryable=result.error.code >= 500,
            )
        if result.message is None:
            return None
        checked = check_stored(result.message.subject, result.message.data)
        return checked if isinstance(checked, CloudEvent) else None

    # ----------------------------------------------------------------------------------- appends

    async def append(self, events: Sequence[CloudEvent], *, expected: int | None = None) -> AppendResult:
        """Store events in order; with `expected`, only if their aggregate's last sequence is that.

        `expected=0` means the aggregate must not exist yet. With `expected`, all events must belong
        to one aggregate. A retry of an append that was stored (same ids) returns the stored
        sequences with `duplicate=True`. Raises ConcurrencyError or StoreError.
        """
        if not events:
            raise ValueError("nothing to append")
        if len(events) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} events per append, got {len(events)}")
        if expected is not None:
            keys = {(e.project, e.aggregate) for e in events}
            if len(keys) != 1:
                raise ValueError("an append with `expected` must hold events of one aggregate")
        async with self._sending(events) as sending:
            result = await self._append(sending.events, expected)
            sending.seqs = result.seqs
        return result

    async def _append(self, events: Sequence[CloudEvent], expected: int | None) -> AppendResult:
        payloads = [(subjects.for_event(e), encode_event(e), self._headers(e)) for e in events]
        if expected is not None:
            first = events[0]
            payloads[0][2]["Nats-Expected-Last-Subject-Sequence"] = str(expected)
            payloads[0][2]["Nats-Expected-Last-Subject-Sequence-Subject"] = subjects.aggregate_filter(
                first.project, first.aggregate
            )
        if len(payloads) == 1:
            subject, data, headers = payloads[0]
            ack = await self._publish(subject, data, headers)
            if ack.error is None:
                return AppendResult([ack.seq], duplicate=ack.duplicate)
        else:
            ack = await self._publish_batch(payloads)
            if ack.error is None:
                first_seq = ack.seq - len(payloads) + 1
                return AppendResult(list(range(first_seq, ack.seq + 1)))
        error = ack.error
        if error.err_code in CONFLICT_CODES or error.err_code == ERR_BATCH_DUPLICATE_ID:
            stored = await self._already_stored(events, expected)
            if stored is not None:
                return AppendResult(stored, duplicate=True)
            if error.err_code in CONFLICT_CODES and expected is not None:
                match = _WRONG_LAST_RE.search(error.description)
                actual = int(match.group(1)) if match else None
                raise ConcurrencyError(events[0].project, events[0].aggregate, expected, actual)
        raise StoreError(
            f"append refused: {error.description}",
            code=error.code,
            err_code=error.err_code,
            retryable=error.code >= 500,
        )

    async def publish_many(self, events: Sequence[CloudEvent]) -> list[AppendResult]:
        """Store independent events (no concurrency check), each deduplicated by its own id.

        The publishes are pipelined on the connection, so they are stored in the given order.
        """
        async with self._sending(events) as sending:
            tasks = [
                asyncio.ensure_future(self._publish(subjects.for_event(e), encode_event(e), self._headers(e)))
                for e in sending.events
            ]
            results = []
            for ack in await asyncio.gather(*tasks):
                if ack.error is not None:
                    raise StoreError(
                        f"append refused: {ack.error.description}",
                        code=ack.error.code,
                        err_code=ack.error.err_code,
                    )
                results.append(AppendResult([ack.seq], duplicate=ack.duplicate))
            sending.seqs = [r.last_seq for r in results]
        return results

    @contextlib.asynccontextmanager
    async def _sending(self, events: Sequence[CloudEvent]) -> AsyncIterator[_Sending]:
        """A PRODUCER span per event around a publish, its context written into the event's
        `traceparent` (and so into the NATS header).

        An event that arrives with a traceparent (from any producer) keeps its trace: the span is
        that context's child. Without telemetry the events pass through untouched.
        """
        sending = _Sending(events)
        if not self.telemetry.enabled:
            yield sending
            return
        tracer = self.telemetry.tracer
        traced: list[CloudEvent] = []
        for event in events:
            subject = subjects.for_event(event)
            span = tracer.start_span(
                f"send {subject}",
                context=context_from(event.traceparent, event.tracestate),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": subject,
                    "messaging.message.id": event.id,
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "send",
                },
            )
            carrier = current_traceparent(trace.set_span_in_context(span))
            traced.append(
                msgspec.structs.replace(
                    event,
                    traceparent=carrier.get("traceparent", event.traceparent),
                    tracestate=carrier.get("tracestate", event.tracestate),
                )
            )
            sending.spans.append(span)
        sending.events = traced
        error: BaseException | None = None
        try:
            yield sending
        except BaseException as exc:
            error = exc
            raise
        finally:
            for index, span in enumerate(sending.spans):
                if index < len(sending.seqs):
                    span.set_attribute("runwire.contract.cursor", str(sending.seqs[index]))
                if error is not None:
                    span.record_exception(error)
                    span.set_status(StatusCode.ERROR, str(error))
                span.end()

    @staticmethod
    def _headers(event: CloudEvent) -> dict[str, str]:
        headers = {"Nats-Msg-Id": dedup_id(event)}
        if event.traceparent:
            headers["traceparent"] = event.traceparent
        if event.tracestate:
            headers["tracestate"] = event.tracestate
        return headers

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str]) -> _PubAck:
        try:
            reply = await self.nc.request(subject, data, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers)
        except nats.errors.NoRespondersError as exc:
            raise StoreError("no stream captures " + subject, retryable=True) from exc
        except nats.errors.TimeoutError as exc:
            raise StoreError("publish timed out (safe to retry: ids deduplicate)", retryable=True) from exc
        return _puback.decode(reply.data)

    async def _publish_batch(self, payloads: list[tuple[str, bytes, dict[str, str]]]) -> _PubAck:
        batch_id = uuid.uuid4().hex
        last = len(payloads)
        try:
            for index, (subject, data, headers) in enumerate(payloads, start=1):
                headers["Nats-Batch-Id"] = batch_id
                headers["Nats-Batch-Sequence"] = str(index)
                if index == last:
                    headers["Nats-Batch-Commit"] = "1"
                    reply = await self.nc.request(
                        subject, data, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers
                    )
                    return _puback.decode(reply.data)
                if index == 1:
                    reply = await self.nc.request(
                        subject, data, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers
                    )
                    if reply.data:
                        started = _puback.decode(reply.data)
                        if started.error is not None:
                            return started
                else:
                    await self.nc.publish(subject, data, headers=headers)
        except nats.errors.NoRespondersError as exc:
            raise StoreError("no stream captures " + payloads[0][0], retryable=True) from exc
        except nats.errors.TimeoutError as exc:
            raise StoreError(
                "batch publish timed out (safe to retry: ids deduplicate)", retryable=True
            ) from exc
        raise AssertionError("unreachable")

    async def _already_stored(self, events: Sequence[CloudEvent], expected: int | None) -> list[int] | None:
        """The sequences of these very events if a previous attempt stored them after `expected`."""
        if expected is None:
            return None
        first = events[0]
        ids = [(e.source, e.id) for e in events]
        found: list[int] = []
        async for stored in self.read_aggregate_raw(first.project, first.aggregate, after=expected):
            if len(found) == len(ids):
                break
            event = decode_event(stored.data)
            if (event.source, event.id) != ids[len(found)]:
                return None
            found.append(stored.seq)
        return found if len(found) == len(ids) else None

    # ------------------------------------------------------------------------------------- reads

    async def read_aggregate_raw(
        self, project: str, aggregate: str, *, after: int = 0
    ) -> AsyncIterator[StoredMessage]:
        """An aggregate's stored messages after sequence `after`, in order, up to the current end."""
        reader = StreamReader(
            self.nc, self.stream, [subjects.aggregate_filter(project, aggregate)], start_seq=after + 1
        )
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                for message in batch:
                    yield message

    async def read_aggregate(self, project: str, aggregate: str, *, after: int = 0) -> list[StoredEvent]:
        """An aggregate's events after sequence `after`, in stream order (junk skipped)."""
        return [
            StoredEvent(seq=m.seq, event=event, stored_ns=m.stored_ns)
            async for m in self.read_aggregate_raw(project, aggregate, after=after)
            if (event := stored_event(m)) is not None
        ]

    async def iter_messages(
        self,
        event_filter: EventFilter,
        *,
        after: int | None = None,
        since: datetime | None = None,
        up_to: int | None = None,
    ) -> AsyncIterator[StoredMessage]:
        """Raw stored messages matching a filter, in order, until caught up (or `up_to`)."""
        async for batch in self.read_batches(event_filter, after=after, since=since, up_to=up_to):
            for message in batch:
                yield message

    async def read_batches(
        self,
        event_filter: EventFilter,
        *,
        after: int | None = None,
        since: datetime | None = None,
        up_to: int | None = None,
        max_buffered: int = READ_BUFFER,
        with_headers: bool = True,
        keep: Callable[[StoredMessage], bool] | None = None,
        last_per_subject: bool = False,
        select: Callable[[list[StoredMessage]], list[StoredMessage]] | None = None,
    ) -> AsyncGenerator[list[StoredMessage], None]:
        """The one stored read of a filter: matching messages in (after, up_to], in order, a batch at
        a time, until caught up. `select` (with each batch, in order; it returns those to keep) and
        `keep` (with each message) are asked first (the stream API's verdicts), so `matches` only
        sees subjects of events; the read holds at most `max_buffered` messages ahead.
        With `last_per_subject` (no `after`/`since`): the last message of each matching subject, in
        order, possibly followed by a few newer ones (see StreamReader)."""
        reader = StreamReader(
            self.nc,
            self.stream,
            event_filter.subjects(),
            start_seq=None if since is not None else (after or 0) + 1,
            start_time=since,
            up_to=up_to,
            max_buffered=max_buffered,
            with_headers=with_headers,
            last_per_subject=last_per_subject,
        )
        matches = None if event_filter.subjects_are_exact else event_filter.matches
        parse = subjects.parse_unchecked
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                last = batch[-1].seq
                if up_to is not None and last > up_to:
                    batch = [message for message in batch if message.seq <= up_to]
                if select is not None and batch:
                    batch = select(batch)
                if keep is not None or matches is not None:
                    batch = [
                        message
                        for message in batch
                        if (keep is None or keep(message))
                        and (matches is None or matches(parse(message.subject)))
                    ]
                if batch:
                    yield batch
                if up_to is not None and last >= up_to:
                    return

    async def follow(
        self,
        *,
        after: int,
        filter_subjects: Sequence[str] = (subjects.STREAM_SUBJECTS,),
        max_buffered: int = READ_BUFFER,
        with_headers: bool = True,
    ) -> AsyncGenerator[list[StoredMessage], None]:
        """Every message on `filter_subjects` (non-overlapping; default: all) stored after `after`, in
        order, a batch at a time as they are stored: a live tail. It never ends by itself."""
        reader = StreamReader(
            self.nc,
            self.stream,
            filter_subjects,
            start_seq=after + 1,
            follow=True,
            max_buffered=max_buffered,
            with_headers=with_headers,
        )
        async with contextlib.aclosing(reader.batches()) as batches:
            async for batch in batches:
                yield batch
