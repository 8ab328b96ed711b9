"""Polling: pages with `limit` and `next`, long-poll `wait`, and the same filters."""

from __future__ import annotations

import asyncio
import time

from tests.stream_api.conftest import StreamAPI, event
from tests.support.eventually import eventually
from tests.support.stream_clients import poll


async def test_pages_through_everything_with_next(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(7)])
    token = api.token()
    first = (await poll(api.http, project, token, **{"from": "earliest", "limit": 3})).json()
    second = (await poll(api.http, project, token, last_event_id=first["next"], limit=3)).json()
    third = (await poll(api.http, project, token, last_event_id=second["next"], limit=3)).json()
    assert [e["id"] for e in first["events"]] == cursors[0:3]
    assert [e["id"] for e in second["events"]] == cursors[3:6]
    assert [e["id"] for e in third["events"]] == cursors[6:]
    assert (first["next"], second["next"], third["next"]) == (cursors[2], cursors[5], cursors[6])


async def test_items_carry_the_cloudevent(api: StreamAPI, project: str) -> None:
    published = event(project, "job.done", "j1", ok=True)
    cursors = await api.publish(project, [published])
    page = (await poll(api.http, project, api.token(), last_event_id=int(cursors[0]) - 1)).json()
    assert page["events"] == [{"id": cursors[0], "event": published}]


async def test_empty_poll_returns_at_once_with_a_next_cursor(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project)])
    started = time.monotonic()
    page = (await poll(api.http, project, api.token(), last_event_id=cursors[0])).json()
    assert page["events"] == []
    assert int(page["next"]) >= int(cursors[0])
    assert time.monotonic() - started < 2


async def test_next_of_a_filtered_empty_poll_skips_what_did_not_match(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, "other.type") for _ in range(3)])
    page = (await poll(api.http, project, api.token(), types="wanted.type", **{"from": "earliest"})).json()
    assert page == {"events": [], "next": cursors[-1]}


async def test_long_poll_returns_when_an_event_arrives(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project)])
    task = asyncio.create_task(poll(api.http, project, api.token(), last_event_id=cursors[0], wait=10))
    await eventually(lambda: len(api.runtime.clients) == 1, timeout=5)  # the poll has joined
    assert not task.done()
    later = await api.publish(project, [event(project, n=1)])
    page = (await asyncio.wait_for(task, 5)).json()
    assert [e["id"] for e in page["events"]] == later
    assert page["next"] == later[0]


async def test_long_poll_times_out_empty(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project)])
    started = time.monotonic()
    response = await poll(api.http, project, api.token(), last_event_id=cursors[0], wait=0.5)
    elapsed = time.monotonic() - started
    assert response.json()["events"] == []
    assert 0.4 < elapsed < 3


async def test_limit_and_wait_are_validated(api: StreamAPI, project: str) -> None:
    for params, field in (({"limit": 0}, "limit"), ({"limit": 5000}, "limit"), ({"wait": -1}, "wait")):
        response = await poll(api.http, project, api.token(), **params)
        assert (response.status_code, response.json()["field"]) == (400, field), response.text


async def test_poll_needs_a_token(api: StreamAPI, project: str) -> None:
    response = await api.http.get(f"/v1/projects/{project}/events")
    assert response.status_code == 401
