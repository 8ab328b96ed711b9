"""Publish: one event or many, retried after 503s, timeouts and lost connections without ever
storing an event twice — each event's `id` is fixed before the first attempt, and the server
deduplicates by (project, source, id).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import httpx
import msgspec

from runwire_client.backoff import Backoff
from runwire_client.errors import RETRYABLE_STATUS, RunwireError, error_of, retry_after
from runwire_client.events import Accepted, CloudEvent, decode_accepted

MAX_EVENTS: Final = 1000
MAX_BYTES: Final = 4 * 1024 * 1024
ATTEMPTS: Final = 6

PublishedEvent = CloudEvent | Mapping[str, Any] | bytes
"""A typed event, a JSON object, or the JSON bytes of one (sent as they are)."""

_json = msgspec.json.Encoder()


def prepared(project: str, event: PublishedEvent) -> bytes:
    """An event's JSON, with an `id` (a UUID) and `project` filled in where the producer left them out."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, CloudEvent):
        return _json.encode(event)
    as_dict = dict(event)
    as_dict.setdefault("id", str(uuid.uuid4()))
    as_dict.setdefault("project", project)
    as_dict.setdefault("specversion", "1.0")
    return _json.encode(as_dict)


def batches(encoded: Iterable[bytes]) -> Iterator[bytes]:
    """JSON array bodies of at most MAX_EVENTS events and about MAX_BYTES each."""
    batch: list[bytes] = []
    size = 0
    for event in encoded:
        if batch and (len(batch) >= MAX_EVENTS or size + len(event) > MAX_BYTES):
            yield b"[" + b",".join(batch) + b"]"
            batch, size = [], 0
        batch.append(event)
        size += len(event) + 1
    if batch:
        yield b"[" + b",".join(batch) + b"]"


def _path(project: str) -> str:
    return f"/v1/projects/{project}/events"


_HEADERS: Final = {"Content-Type": "application/json"}


class _Retry(Exception):
    def __init__(self, delay: float, cause: Exception) -> None:
        self.delay = delay
        self.cause = cause


def _answer(response: httpx.Response, backoff: Backoff) -> list[Accepted]:
    if response.status_code == 202:
        return decode_accepted(response.content)
    error = error_of(response, response.content)
    if response.status_code in RETRYABLE_STATUS:
        raise _Retry(backoff.failed(at_least=retry_after(response)), error)
    raise error


def publish_sync(
    http: httpx.Client, project: str, events: Iterable[PublishedEvent], *, attempts: int = ATTEMPTS
) -> list[Accepted]:
    """Store the events in order; their cursors (a duplicate reports where the first copy is)."""
    accepted: list[Accepted] = []
    for body in batches(prepared(project, e) for e in events):
        backoff = Backoff()
        for attempt in range(attempts):
            try:
                response = http.post(_path(project), content=body, headers=_HEADERS)
                accepted.extend(_answer(response, backoff))
                break
            except _Retry as retry:
                if attempt == attempts - 1:
                    raise retry.cause from None
                time.sleep(retry.delay)
            except (httpx.TransportError, httpx.TimeoutException):
                if attempt == attempts - 1:
                    raise
                time.sleep(backoff.failed())
    return accepted


async def publish_async(
    http: httpx.AsyncClient, project: str, events: Iterable[PublishedEvent], *, attempts: int = ATTEMPTS
) -> list[Accepted]:
    """The async twin of `publish_sync`."""
    accepted: list[Accepted] = []
    for body in batches(prepared(project, e) for e in events):
        backoff = Backoff()
        for attempt in range(attempts):
            try:
                response = await http.post(_path(project), content=body, headers=_HEADERS)
                accepted.extend(_answer(response, backoff))
                break
            except _Retry as retry:
                if attempt == attempts - 1:
                    raise retry.cause from None
                await asyncio.sleep(retry.delay)
            except (httpx.TransportError, httpx.TimeoutException):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(backoff.failed())
    return accepted


__all__ = ["PublishedEvent", "RunwireError", "publish_async", "publish_sync"]
