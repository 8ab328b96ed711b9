"""Export: a filter's stored events as JSON Lines, from/to a cursor or time, junk skipped, streamed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from nats.aio.client import Client as NATS

from tests.stream_api.conftest import StreamAPI, event
from tests.stream_api.test_invalid_events import publish_raw, valid


async def export(api: StreamAPI, project: str, **params: Any) -> httpx.Response:
    return await api.http.get(
        f"/v1/projects/{project}/events/export",
        params=params,
        headers={"Authorization": f"Bearer {api.token()}"},
    )


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.content == b"" or response.content.endswith(b"\n")
    return [json.loads(line) for line in response.content.splitlines()]


async def test_exports_the_stored_events_as_json_lines(api: StreamAPI, project: str) -> None:
    published = [event(project, n=i) for i in range(5)]
    cursors = await api.publish(project, published)
    response = await export(api, project)
    assert lines(response) == published
    assert response.headers["runwire-export-to"] >= cursors[-1]


async def test_serves_the_stored_bytes(api: StreamAPI, project: str) -> None:
    raw = (
        b'{"specversion":"1.0","id":"e1","source":"/t","type":"t.x","subject":"a1",'
        b'"time":"2026-01-02T03:04:05.186Z","project":"%s","data":{"b":1,  "a":2}}' % project.encode()
    )
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=raw,
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    stored = (await export(api, project)).content
    polled = (
        await api.http.get(
            f"/v1/projects/{project}/events",
            params={"from": "earliest"},
            headers={"Authorization": f"Bearer {api.token()}"},
        )
    ).content
    assert stored.endswith(b"\n") and stored.count(b"\n") == 1
    assert b'"event":' + stored.rstrip(b"\n") + b"}" in polled


async def test_filters_and_start_positions(api: StreamAPI, project: str) -> None:
    published = [
        event(project, "run.started", "r1"),
        event(project, "run.step", "r2"),
        event(project, "run.step", "r1"),
        event(project, "job.done", "r1"),
    ]
    cursors = await api.publish(project, published)
    assert lines(await export(api, project, types="run.>")) == published[:3]
    assert lines(await export(api, project, aggregates="r1")) == [published[0], published[2], published[3]]
    assert lines(await export(api, project, types="run.*", aggregates="r1")) == [published[0], published[2]]
    assert lines(await export(api, project, last_event_id=cursors[1])) == published[2:]
    assert lines(await export(api, project, **{"from": "latest"})) == []
    header = await api.http.get(
        f"/v1/projects/{project}/events/export",
        headers={"Authorization": f"Bearer {api.token()}", "Last-Event-ID": cursors[2]},
    )
    assert lines(header) == published[3:]


async def test_to_a_cursor_or_a_time(api: StreamAPI, project: str) -> None:
    first = [event(project, n=i) for i in range(3)]
    cursors = await api.publish(project, first)
    response = await export(api, project, to=cursors[1])
    assert lines(response) == first[:2]
    assert response.headers["runwire-export-to"] == cursors[1]
    assert lines(await export(api, project, last_event_id=cursors[0], to=cursors[1])) == first[1:2]
    boundary = datetime.now(UTC)
    # Same clock as the server's store times: the first events were stored (acknowledged) before
    # `boundary`, the next one is stored after it.
    later = [event(project, n=9)]
    await api.publish(project, later)
    stamp = boundary.isoformat().replace("+00:00", "Z")
    assert lines(await export(api, project, to=stamp)) == first
    assert lines(await export(api, project, since=stamp)) == later
    future = (boundary + timedelta(days=1)).isoformat()
    assert lines(await export(api, project, to=future)) == first + later


async def test_ends_at_the_end_of_the_stream_at_request_time(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project)])
    response = await export(api, project, to=str(int(cursors[0]) + 10**9))
    assert len(lines(response)) == 1


async def test_skips_junk_like_every_other_read(api: StreamAPI, nc: NATS, project: str) -> None:
    subject, data, first_id = valid(project)
    await publish_raw(nc, subject, data)
    await publish_raw(nc, f"events.{project}.a1.test.happened", b"{oops")
    await publish_raw(nc, f"events.{project}.a1.test.happened", b'{"not": "a cloudevent"}')
    subject2, data2, second_id = valid(project, aggregate="a2")
    await publish_raw(nc, f"events.{project}.a1.test.happened", data2)  # subject disagrees
    last = await publish_raw(nc, subject2, data2)
    response = await export(api, project)
    assert [e["id"] for e in lines(response)] == [first_id, second_id]
    assert response.headers["runwire-export-to"] == str(last)


async def test_bad_parameters_are_problems(api: StreamAPI, project: str) -> None:
    for params, field in [
        ({"to": "yesterday"}, "to"),
        ({"to": "-1"}, "to"),
        ({"from": "snapshot"}, "from"),
        ({"from": "nowhere"}, "from"),
        ({"since": "soon"}, "since"),
        ({"last_event_id": "x"}, "last_event_id"),
        ({"types": "a..b"}, "types"),
    ]:
        response = await export(api, project, **params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"] == field, response.text


async def test_auth_like_every_endpoint(api: StreamAPI, project: str) -> None:
    url = f"/v1/projects/{project}/events/export"
    assert (await api.http.get(url)).status_code == 401
    other = {"Authorization": f"Bearer {api.token(['someone-else'])}"}
    assert (await api.http.get(url, headers=other)).status_code == 403
    assert (await api.http.get(url, params={"access_token": api.token([project])})).status_code == 200


async def test_a_large_export_is_streamed(api: StreamAPI, project: str) -> None:
    """50,000 events arrive in many chunks, the first long before the last (not one buffered body)."""
    total, per_request = 50_000, 1000
    for start in range(0, total, per_request):
        await api.publish(project, [event(project, n=start + i) for i in range(per_request)])
    started = time.perf_counter()
    received = chunks = 0
    first_chunk_at = 0.0
    async with api.http.stream(
        "GET",
        f"/v1/projects/{project}/events/export",
        headers={"Authorization": f"Bearer {api.token()}"},
    ) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            if not chunks:
                first_chunk_at = time.perf_counter() - started
            chunks += 1
            received += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    assert received == total
    assert chunks > 10
    assert first_chunk_at < elapsed / 2
    print(f"\nexport: {total} events in {elapsed:.2f}s = {total / elapsed:,.0f} events/s")
