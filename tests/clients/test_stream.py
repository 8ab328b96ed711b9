"""The client's stream iterators against a real server: start positions, filters, resume across a
restart of the stream API (nothing lost, nothing repeated), `event: reset` surfaced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore, StreamSettings
from runwire_client import AsyncRunwire, Backoff, Reset, Runwire, StreamEvent, StreamItem
from runwire_stream_api.app import create_app
from tests.stream_api.conftest import StartAPI, StreamAPI, event, settings_for
from tests.stream_api.test_invalid_events import publish_raw, valid
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.support.ports import free_port

FAST = Backoff(initial=0.05, max_delay=0.5)


async def take(items: AsyncIterator[StreamItem], count: int, timeout: float = 15) -> list[StreamItem]:
    got: list[StreamItem] = []

    async def loop() -> None:
        async for item in items:
            got.append(item)
            if len(got) >= count:
                return

    await asyncio.wait_for(loop(), timeout)
    return got


async def test_async_iterator_replays_and_follows_with_filters(api: StreamAPI, project: str) -> None:
    stored = [
        event(project, "run.started", "r1"),
        event(project, "job.done", "r1"),
        event(project, "run.step", "r2"),
    ]
    await api.publish(project, stored)
    async with AsyncRunwire(api.base, api.token()) as client:
        items = client.stream(project, types="run.>", from_="earliest", backoff=FAST)
        first = await take(items, 2)
        assert [i.event.id for i in first if isinstance(i, StreamEvent)] == [stored[0]["id"], stored[2]["id"]]
        live = event(project, "run.done", "r1", ok=True)
        cursors = await api.publish(project, [event(project, "job.x"), live])
        (item,) = await take(items, 1)
        assert isinstance(item, StreamEvent)
        assert (item.cursor, item.event.type, item.event.data) == (cursors[1], "run.done", {"ok": True})
        assert item.event.time is not None
        await items.aclose()  # type: ignore[attr-defined]


async def test_latest_delivers_what_arrives_after_connecting(api: StreamAPI, project: str) -> None:
    old = await api.publish(project, [event(project)])
    async with AsyncRunwire(api.base, api.token()) as client:
        items = client.stream(project, aggregates=["a1"], backoff=FAST)
        task = asyncio.ensure_future(take(items, 1))
        await eventually(lambda: len(api.runtime.clients) == 1)
        published = await api.publish(project, [event(project, n=1)])
        (item,) = await task
        assert isinstance(item, StreamEvent) and item.cursor == published[0] != old[0]


async def test_sync_iterator_with_since_and_last_event_id(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(4)])

    def read(**options: object) -> list[str]:
        with Runwire(api.base, api.token()) as client:
            got: list[str] = []
            for item in client.stream(project, backoff=FAST, **options):  # type: ignore[arg-type]
                assert isinstance(item, StreamEvent)
                got.append(item.cursor)
                if len(got) == 2:
                    return got
        return got

    assert await asyncio.to_thread(read, last_event_id=cursors[1]) == cursors[2:]
    assert await asyncio.to_thread(read, since="2000-01-01T00:00:00Z", aggregates="a1") == cursors[:2]


async def test_resume_across_a_restart_loses_nothing_and_repeats_nothing(
    nats_url: str, nc: NATS, project: str
) -> None:
    port = free_port()
    before, during, after = 5, 5, 5
    received: list[StreamEvent] = []
    async with contextlib.AsyncExitStack() as outer:
        stack = await outer.enter_async_context(contextlib.AsyncExitStack())
        app = create_app(settings_for(nats_url))
        base = await stack.enter_async_context(serving(app, port))
        token = app.state.runtime.settings.auth_secret
        from runwire.web.auth import issue_token

        client = await outer.enter_async_context(AsyncRunwire(base, issue_token(token, "t", [project])))
        items = client.stream(project, from_="earliest", backoff=FAST)

        async def collect() -> None:
            async for item in items:
                assert isinstance(item, StreamEvent)
                received.append(item)

        reader = asyncio.create_task(collect())
        ids = []
        for _ in range(before):
            subject, data, id_ = valid(project)
            await publish_raw(nc, subject, data)
            ids.append(id_)
        await eventually(lambda: len(received) == before)
        await stack.aclose()  # SIGTERM-like: `event: close`, then the server is gone
        for _ in range(during):
            subject, data, id_ = valid(project)
            await publish_raw(nc, subject, data)
            ids.append(id_)
        stack = await outer.enter_async_context(contextlib.AsyncExitStack())
        await stack.enter_async_context(serving(create_app(settings_for(nats_url)), port))
        for _ in range(after):
            subject, data, id_ = valid(project)
            await publish_raw(nc, subject, data)
            ids.append(id_)
        await eventually(lambda: len(received) >= len(ids), timeout=20)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    assert [item.event.id for item in received] == ids
    cursors = [int(item.cursor) for item in received]
    assert cursors == sorted(set(cursors))


async def test_a_cursor_older_than_retention_is_surfaced_as_a_reset(
    start_api: StartAPI, tmp_path: Path, project: str
) -> None:
    with EmbeddedNats(tmp_path) as server:
        nc = await nats.connect(server.url)
        await EventStore(nc).ensure_stream(StreamSettings(max_msgs=5))
        await nc.close()
        api = await start_api(server.url, stream_max_msgs=5)
        cursors = await api.publish(project, [event(project, n=i) for i in range(12)])
        items = await asyncio.to_thread(_read_to_first_event, api, project, cursors[1])
    reset = items[0]
    assert reset == Reset(earliest=cursors[7], requested=cursors[1])
    assert isinstance(items[-1], StreamEvent) and items[-1].cursor == cursors[7]


def _read_to_first_event(api: StreamAPI, project: str, stale: str) -> list[StreamItem]:
    """The sync iterator's items up to its first event (a reset comes before it)."""

    def read() -> list[StreamItem]:
        with Runwire(api.base, api.token()) as client:
            got: list[StreamItem] = []
            for item in client.stream(project, last_event_id=stale, backoff=FAST):
                got.append(item)
                if isinstance(item, StreamEvent):
                    return got
        return got

    return read()


async def test_a_refused_stream_raises_the_problem_detail(api: StreamAPI, project: str) -> None:
    from runwire_client import RunwireError

    async with AsyncRunwire(api.base, api.token(["other"])) as client:
        with pytest.raises(RunwireError) as refused:
            await take(client.stream(project, backoff=FAST), 1)
    assert refused.value.status == 403 and project in refused.value.detail
