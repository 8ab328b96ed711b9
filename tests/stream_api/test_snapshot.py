"""`from=snapshot` on SSE, WebSocket and polling: the last stored event of each matching aggregate,
then live from the exact boundary, exactly once while a producer keeps publishing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager

import pytest
from nats.aio.client import Client as NATS

from runwire.contract.envelope import encode_event, new_event
from tests.stream_api.conftest import StreamAPI, event
from tests.support.eventually import eventually
from tests.support.stream_clients import events_of, poll, sse, ws

# Each transport as "read everything from=snapshot until `done(ids)`": the cursors, in order.
Reader = Callable[
    [StreamAPI, str, dict[str, str], Callable[[list[str]], bool]], Coroutine[None, None, list[str]]
]


async def read_sse(
    api: StreamAPI, project: str, params: dict[str, str], done: Callable[[list[str]], bool]
) -> list[str]:
    async with sse(api.base, project, api.token(), params) as reader:
        await reader.read_until(lambda ms: done([m.id or "" for m in events_of(ms)]), timeout=30)
        return [m.id or "" for m in events_of(reader.messages)]


async def read_ws(
    api: StreamAPI, project: str, params: dict[str, str], done: Callable[[list[str]], bool]
) -> list[str]:
    ids: list[str] = []
    async with ws(api.base, project, api.token(), params) as connection:

        async def loop() -> None:
            while not done(ids):
                try:  # `done` may change while no message comes: look again every so often
                    message = json.loads(await asyncio.wait_for(connection.recv(), 0.5))
                except TimeoutError:
                    continue
                if "event" in message:
                    ids.append(message["id"])

        await asyncio.wait_for(loop(), 30)
    return ids


async def read_polls(
    api: StreamAPI, project: str, params: dict[str, str], done: Callable[[list[str]], bool]
) -> list[str]:
    ids: list[str] = []
    page = (await poll(api.http, project, api.token(), **params)).json()

    async def loop() -> None:
        nonlocal page
        while True:
            ids.extend(item["id"] for item in page["events"])
            if done(ids):
                return
            rest = {k: v for k, v in params.items() if k != "from"}
            page = (
                await poll(api.http, project, api.token(), last_event_id=page["next"], wait=1, **rest)
            ).json()

    await asyncio.wait_for(loop(), 30)
    return ids


TRANSPORTS = [
    pytest.param(read_sse, id="sse"),
    pytest.param(read_ws, id="ws"),
    pytest.param(read_polls, id="poll"),
]


def last_per_aggregate(published: list[tuple[str, str]], up_to: int) -> list[str]:
    """The expected snapshot: (cursor, aggregate) pairs -> the last cursor of each aggregate, in order."""
    last: dict[str, int] = {}
    for cursor, aggregate in published:
        if int(cursor) <= up_to:
            last[aggregate] = int(cursor)
    return [str(seq) for seq in sorted(last.values())]


@asynccontextmanager
async def publishing(api: StreamAPI, project: str, count: int) -> AsyncIterator[list[tuple[str, str]]]:
    """A producer publishing `count` events, two per request, across five aggregates, concurrently."""
    published: list[tuple[str, str]] = []

    async def produce() -> None:
        for n in range(0, count, 2):
            aggregates = [f"a{(n + i) % 5}" for i in range(2)]
            types = ["run.step.one" if (n + i) % 3 else "run.step.two" for i in range(2)]
            batch = [
                event(project, type_, aggregate, n=n + i)
                for i, (type_, aggregate) in enumerate(zip(types, aggregates, strict=True))
            ]
            cursors = await api.publish(project, batch)
            published.extend(zip(cursors, aggregates, strict=True))

    task = asyncio.create_task(produce())
    try:
        yield published
        await task
    finally:
        task.cancel()


@pytest.mark.parametrize("read", TRANSPORTS)
async def test_snapshot_is_the_last_event_of_each_aggregate_then_live(
    api: StreamAPI, project: str, read: Reader
) -> None:
    other = f"{project}-other"
    cursors = await api.publish(
        project,
        [
            event(project, "run.step.one", "a1", n=0),
            event(project, "run.step.two", "a1", n=1),
            event(project, "run.step.one", "a2", n=2),
            event(project, "run.step.one", "a1", n=3),  # a1's last: same subject as its first
            event(project, "run.other", "a3", n=4),
        ],
    )
    await api.publish(other, [event(other, "run.step.one", "a1")])
    reading = asyncio.create_task(read(api, project, {"from": "snapshot"}, lambda ids: len(ids) >= 4))
    await eventually(lambda: bool(api.runtime.clients))
    [live] = await api.publish(project, [event(project, "run.step.one", "a2", n=5)])
    got = await reading
    assert got == [cursors[2], cursors[3], cursors[4], live]


@pytest.mark.parametrize("read", TRANSPORTS)
async def test_snapshot_respects_the_filter(api: StreamAPI, project: str, read: Reader) -> None:
    cursors = await api.publish(
        project,
        [
            event(project, "run.step.one", "a1"),
            event(project, "run.other", "a1"),  # a1's last, but not of the filter's types
            event(project, "run.step.two", "a2"),
            event(project, "run.step.one", "a3"),  # not among the filter's aggregates
        ],
    )
    params = {"from": "snapshot", "types": "run.step.*", "aggregates": "a1,a2"}
    got = await read(api, project, params, lambda ids: len(ids) >= 2)
    assert got == [cursors[0], cursors[2]]
    [extra] = await api.publish(project, [event(project, "run.step.one", "a2")])
    again = await read(api, project, params, lambda ids: len(ids) >= 2)
    assert again == [cursors[0], extra]


@pytest.mark.parametrize("read", TRANSPORTS)
async def test_snapshot_then_live_is_exactly_once_while_events_keep_arriving(
    api: StreamAPI, project: str, read: Reader
) -> None:
    async with publishing(api, project, 400) as published:
        await eventually(lambda: len(published) >= 40)
        last_cursor: list[str] = []

        def done(ids: list[str]) -> bool:
            return bool(last_cursor) and last_cursor[0] in ids

        reading = asyncio.create_task(read(api, project, {"from": "snapshot"}, done))
        await eventually(lambda: bool(api.runtime.clients))
        connected_at = len(published)
    assert len(published) == 400
    last_cursor.append(published[-1][0])
    got = await reading
    all_cursors = [int(cursor) for cursor, _ in published]
    # The boundary is the last snapshot event: before it one event per aggregate, after it all.
    splits = [
        k
        for k in range(1, len(got) + 1)
        if got[:k] == last_per_aggregate(published, int(got[k - 1]))
        and got[k:] == [str(seq) for seq in all_cursors if seq > int(got[k - 1])]
    ]
    assert splits, f"not a snapshot followed by every later event exactly once: {got}"
    live = len(got) - splits[-1]
    assert len(set(got)) == len(got)
    assert live >= 400 - connected_at - 2, "the snapshot was taken while the producer was running"
    assert splits[-1] <= 5


async def test_a_cursor_wins_over_from_snapshot(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, aggregate=f"a{n % 2}", n=n) for n in range(4)])
    page = (
        await poll(api.http, project, api.token(), last_event_id=cursors[0], **{"from": "snapshot"})
    ).json()
    assert [item["id"] for item in page["events"]] == cursors[1:]


async def test_a_snapshot_larger_than_a_poll_continues_from_its_next(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, aggregate=f"a{n}", n=n) for n in range(5)])
    first = (await poll(api.http, project, api.token(), limit=3, **{"from": "snapshot"})).json()
    assert [item["id"] for item in first["events"]] == cursors[:3]
    assert first["next"] == cursors[2]
    rest = (await poll(api.http, project, api.token(), last_event_id=first["next"])).json()
    assert [item["id"] for item in rest["events"]] == cursors[3:]


async def test_invalid_stored_messages_are_never_in_a_snapshot(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    good = new_event(type="run.step.one", project=project, source="/raw", subject="a1", data={"n": 1})
    js = nc.jetstream()
    kept = (await js.publish(f"events.{project}.a1.run.step.one", encode_event(good))).seq
    await js.publish(f"events.{project}.a1.run.step.two", b"{oops")  # a1's last message: junk
    await js.publish(f"events.{project}.a2.run.step.one", b'{"not": "a cloudevent"}')
    page = (await poll(api.http, project, api.token(), **{"from": "snapshot"})).json()
    assert [item["id"] for item in page["events"]] == [str(kept)]
    assert page["events"][0]["event"]["id"] == good.id
