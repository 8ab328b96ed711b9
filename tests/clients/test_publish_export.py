"""Publish with retries that stay deduplicated (through a proxy that loses the first answer or
answers 503), and export to JSON Lines, against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator

from runwire_client import AsyncRunwire, Runwire
from tests.stream_api.conftest import StreamAPI, event


@contextlib.asynccontextmanager
async def flaky_proxy(upstream: str, mode: str, failures: int = 1) -> AsyncIterator[str]:
    """A TCP proxy to `upstream` whose first `failures` connections fail: `drop` forwards the request
    and closes before the answer reaches the client; `503` answers 503 without forwarding."""
    host, port = upstream.removeprefix("http://").split(":")
    remaining = [failures]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        failing = remaining[0] > 0
        remaining[0] -= 1
        if failing and mode == "503":
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(host, int(port))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        if failing:  # the upstream stores the events; its answer never arrives
            upstream_task = asyncio.create_task(pump(reader, up_writer))
            await up_reader.read(1)
            upstream_task.cancel()
            writer.transport.abort()
            up_writer.close()
            return
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def stored_ids(api: StreamAPI, project: str) -> list[str]:
    response = await api.http.get(
        f"/v1/projects/{project}/events/export", headers={"Authorization": f"Bearer {api.token()}"}
    )
    return [json.loads(line)["id"] for line in response.content.splitlines()]


async def test_publish_one_and_a_batch(api: StreamAPI, project: str) -> None:
    async with AsyncRunwire(api.base, api.token()) as client:
        one = await client.publish(project, {"source": "/t", "type": "t.one", "subject": "a1"})
        batch = await client.publish_batch(project, [event(project, n=i) for i in range(2500)])
    assert not one.duplicate and len(batch) == 2500
    assert [int(a.cursor) for a in batch] == sorted({int(a.cursor) for a in batch})
    assert len(await stored_ids(api, project)) == 2501


async def test_a_lost_answer_is_retried_and_stored_once(api: StreamAPI, project: str) -> None:
    events = [event(project, n=i) for i in range(3)]
    async with flaky_proxy(api.base, "drop") as url, AsyncRunwire(url, api.token()) as client:
        accepted = await client.publish_batch(project, events)
    assert all(a.duplicate for a in accepted)  # the first attempt stored them
    assert await stored_ids(api, project) == [e["id"] for e in events]


async def test_a_503_is_retried_and_ids_given_by_the_client_are_kept(api: StreamAPI, project: str) -> None:
    def publish(url: str) -> list[str]:
        with Runwire(url, api.token()) as client:
            return [a.id for a in client.publish_batch(project, [{"source": "/t", "type": "t.x"}] * 2)]

    async with flaky_proxy(api.base, "503", failures=2) as url:
        ids = await asyncio.to_thread(publish, url)
    assert len(set(ids)) == 2
    assert await stored_ids(api, project) == ids


async def test_export_iterates_and_writes_json_lines(api: StreamAPI, project: str) -> None:
    published = [event(project, "run.x", f"r{i % 2}", n=i) for i in range(6)]
    cursors = await api.publish(project, published)

    def export() -> tuple[list[bytes], bytes, int]:
        with Runwire(api.base, api.token()) as client:
            lines = list(client.export(project, aggregates="r1", to=cursors[4]))
            out = io.BytesIO()
            count = client.export_to(out, project)
            return lines, out.getvalue(), count

    lines, written, count = await asyncio.to_thread(export)
    assert [json.loads(line) for line in lines] == [published[1], published[3]]
    assert count == 6 and [json.loads(line) for line in written.splitlines()] == published
    async with AsyncRunwire(api.base, api.token()) as client:
        got = [json.loads(line) async for line in client.export(project, last_event_id=cursors[3])]
    assert got == published[4:]
