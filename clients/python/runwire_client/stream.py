"""A project's SSE stream as an iterator (async or sync) that resumes by itself.

`Resumption` is the transport-free core: it builds each connection's request from where the
caller started and, once an event arrived, from its cursor (`Last-Event-ID`), and turns SSE
messages into typed items. Disconnects, server restarts and `event: close` (a server stopping)
lead to a reconnect after a backoff with jitter that starts from the server's `retry:`; an
`event: reset` is handed to the caller as a `Reset` item. A `from=latest` stream is pinned to a
cursor before it starts, so events stored while it reconnects are not lost either.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx

from runwire_client.backoff import Backoff
from runwire_client.errors import RETRYABLE_STATUS, RunwireError, error_of, retry_after
from runwire_client.events import (
    StreamEvent,
    StreamItem,
    decode_event,
    decode_poll_page,
    decode_reset,
    poll_next,
)
from runwire_client.sse import SSEMessage, SSEParser

IDLE_TIMEOUT = 60.0
"""Seconds without a byte (the server sends heartbeats every 15 s by default) before reconnecting."""


@dataclass
class StreamOptions:
    """What to stream and where to start: a filter and one of `last_event_id`, `since`, `from_`."""

    project: str
    types: list[str] | None = None
    aggregates: list[str] | None = None
    from_: str = "latest"
    since: str | None = None
    last_event_id: str | None = None

    def filter_params(self) -> dict[str, str]:
        params = {}
        if self.types:
            params["types"] = ",".join(self.types)
        if self.aggregates:
            params["aggregates"] = ",".join(self.aggregates)
        return params


@dataclass
class Resumption:
    """The state that survives reconnects: the last cursor and the server's retry interval."""

    options: StreamOptions
    backoff: Backoff = field(default_factory=Backoff)
    cursor: str | None = None
    retry: float | None = None

    def __post_init__(self) -> None:
        self.cursor = self.options.last_event_id

    @property
    def needs_pin(self) -> bool:
        """A live-only stream without a cursor yet: ask for the head's cursor before connecting."""
        options = self.options
        return self.cursor is None and options.since is None and options.from_ == "latest"

    def pin_request(self) -> tuple[str, dict[str, str]]:
        params = {**self.options.filter_params(), "from": "latest", "limit": "1"}
        return f"/v1/projects/{self.options.project}/events", params

    def pinned(self, body: bytes) -> list[StreamEvent]:
        """Take the pinning poll's answer: its events (if one just arrived) and its `next` cursor."""
        events = decode_poll_page(body)
        self.cursor = poll_next(body)
        return events

    def request(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """Path, query and headers of the next connection."""
        options = self.options
        params = options.filter_params()
        headers = {"Accept": "text/event-stream"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        elif options.since is not None:
            params["since"] = options.since
        else:
            params["from"] = options.from_
        return f"/v1/projects/{options.project}/events/stream", params, headers

    def item(self, message: SSEMessage) -> StreamItem | None:
        """The typed item of a message (None for a control); `close` is seen by `closing`."""
        if message.event == "reset":
            return decode_reset(message.data)
        if message.event == "close" or message.id is None:
            return None
        self.cursor = message.id
        return StreamEvent(message.id, decode_event(message.data), message.data)

    def delay_after_close(self) -> float:
        """A server that stops asks everyone to come back: spread them over the retry interval."""
        return random.uniform(0, self.retry if self.retry is not None else self.backoff.initial)

    def delay_after_failure(self, at_least: float | None = None) -> float:
        return self.backoff.failed(self.retry, at_least)

    def connected(self) -> None:
        self.backoff.succeeded()

    def seen(self, parser: SSEParser) -> None:
        if parser.retry_ms is not None:
            self.retry = parser.retry_ms / 1000


def _timeout(idle_timeout: float) -> httpx.Timeout:
    return httpx.Timeout(10.0, read=idle_timeout)


def _refused(response: httpx.Response, body: bytes, state: Resumption) -> float:
    """A non-200 answer: the delay before retrying it, or raise when retrying cannot help."""
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        return state.delay_after_failure(retry_after(response))
    raise error_of(response, body)


async def stream_async(
    http: httpx.AsyncClient,
    options: StreamOptions,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    backoff: Backoff | None = None,
) -> AsyncIterator[StreamItem]:
    """Events and resets of a project's stream, forever, resuming across disconnects."""
    state = Resumption(options, backoff or Backoff())
    timeout = _timeout(idle_timeout)
    while True:
        delay: float
        try:
            if state.needs_pin:
                path, params = state.pin_request()
                answer = await http.get(path, params=params, timeout=timeout)
                if answer.status_code != 200:
                    await asyncio.sleep(_refused(answer, answer.content, state))
                    continue
                for pinned in state.pinned(answer.content):
                    yield pinned
            path, params, headers = state.request()
            async with http.stream("GET", path, params=params, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    delay = _refused(response, await response.aread(), state)
                else:
                    parser = SSEParser()
                    state.connected()
                    closed = False
                    async for chunk in response.aiter_raw():
                        for message in parser.feed(chunk):
                            if message.event == "close":
                                closed = True
                                continue
                            item = state.item(message)
                            if item is not None:
                                yield item
                        state.seen(parser)
                    delay = state.delay_after_close() if closed else state.delay_after_failure()
        except (httpx.TransportError, httpx.TimeoutException):
            delay = state.delay_after_failure()
        await asyncio.sleep(delay)


def stream_sync(
    http: httpx.Client,
    options: StreamOptions,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    backoff: Backoff | None = None,
) -> Iterator[StreamItem]:
    """The blocking twin of `stream_async`, for scripts and the CLI."""
    state = Resumption(options, backoff or Backoff())
    timeout = _timeout(idle_timeout)
    while True:
        delay: float
        try:
            if state.needs_pin:
                path, params = state.pin_request()
                answer = http.get(path, params=params, timeout=timeout)
                if answer.status_code != 200:
                    time.sleep(_refused(answer, answer.content, state))
                    continue
                yield from state.pinned(answer.content)
            path, params, headers = state.request()
            with http.stream("GET", path, params=params, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    delay = _refused(response, response.read(), state)
                else:
                    parser = SSEParser()
                    state.connected()
                    closed = False
                    for chunk in response.iter_raw():
                        for message in parser.feed(chunk):
                            if message.event == "close":
                                closed = True
                                continue
                            item = state.item(message)
                            if item is not None:
                                yield item
                        state.seen(parser)
                    delay = state.delay_after_close() if closed else state.delay_after_failure()
        except (httpx.TransportError, httpx.TimeoutException):
            delay = state.delay_after_failure()
        time.sleep(delay)


__all__ = ["RunwireError", "StreamOptions", "stream_async", "stream_sync"]
