"""Export: a project's stored events as JSON Lines (one CloudEvent a line), streamed from the
server's export endpoint without holding the whole log in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO

import httpx

from runwire_client.errors import error_of


@dataclass
class ExportOptions:
    """A filter, where to start (default: the earliest stored event) and where to end (`to`)."""

    project: str
    types: list[str] | None = None
    aggregates: list[str] | None = None
    from_: str = "earliest"
    since: str | None = None
    last_event_id: str | None = None
    to: str | None = None

    def request(self) -> tuple[str, dict[str, str]]:
        params = {"from": self.from_}
        if self.types:
            params["types"] = ",".join(self.types)
        if self.aggregates:
            params["aggregates"] = ",".join(self.aggregates)
        for name in ("since", "last_event_id", "to"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        return f"/v1/projects/{self.project}/events/export", params


class _Lines:
    """Splits a byte stream into complete lines (each returned with its newline)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._rest + chunk
        end = data.rfind(b"\n") + 1
        self._rest = data[end:]
        return data[:end].splitlines(keepends=True)

    def end(self) -> list[bytes]:
        rest, self._rest = self._rest, b""
        return [rest + b"\n"] if rest.strip() else []


_TIMEOUT = httpx.Timeout(10.0, read=120.0)


def export_sync(http: httpx.Client, options: ExportOptions) -> Iterator[bytes]:
    """The export's lines, each a CloudEvent's JSON ending in a newline."""
    path, params = options.request()
    with http.stream("GET", path, params=params, timeout=_TIMEOUT) as response:
        if response.status_code != 200:
            raise error_of(response, response.read())
        lines = _Lines()
        for chunk in response.iter_raw():
            yield from lines.feed(chunk)
        yield from lines.end()


async def export_async(http: httpx.AsyncClient, options: ExportOptions) -> AsyncIterator[bytes]:
    """The async twin of `export_sync`."""
    path, params = options.request()
    async with http.stream("GET", path, params=params, timeout=_TIMEOUT) as response:
        if response.status_code != 200:
            raise error_of(response, await response.aread())
        lines = _Lines()
        async for chunk in response.aiter_raw():
            for line in lines.feed(chunk):
                yield line
        for line in lines.end():
            yield line


def write_export(http: httpx.Client, options: ExportOptions, out: IO[bytes]) -> int:
    """Write the export to a binary file; the number of events written."""
    count = 0
    for line in export_sync(http, options):
        out.write(line)
        count += 1
    return count
