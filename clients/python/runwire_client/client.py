"""`Runwire` and `AsyncRunwire`: a stream API's URL and token, and what can be done with them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import IO, Any

import httpx
import msgspec

from runwire_client.backoff import Backoff
from runwire_client.errors import error_of
from runwire_client.events import Accepted, StreamItem
from runwire_client.export import ExportOptions, export_async, export_sync, write_export
from runwire_client.publish import PublishedEvent, publish_async, publish_sync
from runwire_client.stream import IDLE_TIMEOUT, StreamOptions, stream_async, stream_sync

_TIMEOUT = httpx.Timeout(10.0)


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _csv(values: Iterable[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    return [v for v in (values.split(",") if isinstance(values, str) else values) if v]


class Runwire:
    """Blocking client: `stream` (an endless iterator that resumes by itself), `publish`, `export`."""

    def __init__(self, url: str, token: str | None = None, *, http: httpx.Client | None = None) -> None:
        self.http = http or httpx.Client(base_url=url, headers=_headers(token), timeout=_TIMEOUT)

    def __enter__(self) -> Runwire:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def stream(
        self,
        project: str,
        *,
        types: Iterable[str] | str | None = None,
        aggregates: Iterable[str] | str | None = None,
        from_: str = "latest",
        since: str | None = None,
        last_event_id: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> Iterator[StreamItem]:
        """`StreamEvent`s (and a `Reset` when retention removed events after the cursor), forever."""
        options = StreamOptions(project, _csv(types), _csv(aggregates), from_, since, last_event_id)
        return stream_sync(self.http, options, idle_timeout=idle_timeout, backoff=backoff)

    def publish(self, project: str, event: PublishedEvent) -> Accepted:
        return publish_sync(self.http, project, [event])[0]

    def publish_batch(self, project: str, events: Iterable[PublishedEvent]) -> list[Accepted]:
        return publish_sync(self.http, project, events)

    def export(
        self,
        project: str,
        *,
        types: Iterable[str] | str | None = None,
        aggregates: Iterable[str] | str | None = None,
        from_: str = "earliest",
        since: str | None = None,
        last_event_id: str | None = None,
        to: str | None = None,
    ) -> Iterator[bytes]:
        """The stored events as JSON Lines, one CloudEvent JSON (with its newline) per item."""
        options = ExportOptions(project, _csv(types), _csv(aggregates), from_, since, last_event_id, to)
        return export_sync(self.http, options)

    def export_to(self, out: IO[bytes], project: str, **options: Any) -> int:
        """Write the export to a binary file; returns the number of events."""
        return write_export(self.http, ExportOptions(project, **options), out)

    def stats(self) -> dict[str, Any]:
        """The stream API instance's live figures (`GET /v1/stats`)."""
        response = self.http.get("/v1/stats")
        if response.status_code != 200:
            raise error_of(response, response.content)
        figures: dict[str, Any] = msgspec.json.decode(response.content)
        return figures


class AsyncRunwire:
    """The asyncio client: the same as `Runwire`, awaited."""

    def __init__(self, url: str, token: str | None = None, *, http: httpx.AsyncClient | None = None) -> None:
        self.http = http or httpx.AsyncClient(base_url=url, headers=_headers(token), timeout=_TIMEOUT)

    async def __aenter__(self) -> AsyncRunwire:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    def stream(
        self,
        project: str,
        *,
        types: Iterable[str] | str | None = None,
        aggregates: Iterable[str] | str | None = None,
        from_: str = "latest",
        since: str | None = None,
        last_event_id: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> AsyncIterator[StreamItem]:
        """`StreamEvent`s (and a `Reset` when retention removed events after the cursor), forever."""
        options = StreamOptions(project, _csv(types), _csv(aggregates), from_, since, last_event_id)
        return stream_async(self.http, options, idle_timeout=idle_timeout, backoff=backoff)

    async def publish(self, project: str, event: PublishedEvent) -> Accepted:
        return (await publish_async(self.http, project, [event]))[0]

    async def publish_batch(self, project: str, events: Iterable[PublishedEvent]) -> list[Accepted]:
        return await publish_async(self.http, project, events)

    def export(
        self,
        project: str,
        *,
        types: Iterable[str] | str | None = None,
        aggregates: Iterable[str] | str | None = None,
        from_: str = "earliest",
        since: str | None = None,
        last_event_id: str | None = None,
        to: str | None = None,
    ) -> AsyncIterator[bytes]:
        options = ExportOptions(project, _csv(types), _csv(aggregates), from_, since, last_event_id, to)
        return export_async(self.http, options)

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("/v1/stats")
        if response.status_code != 200:
            raise error_of(response, response.content)
        figures: dict[str, Any] = msgspec.json.decode(response.content)
        return figures
