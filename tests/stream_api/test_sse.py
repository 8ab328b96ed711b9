"""SSE streams: replay, live, resume, filters, heartbeats, reset, errors and cleanup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import nats

from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore, StreamSettings
from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.clock import instant_after
from tests.support.eventually import eventually
from tests.support.stream_clients import events_of, sse


async def test_replay_from_earliest_is_complete_and_ordered(api: StreamAPI, project: str) -> None:
    published = [event(project, "job.step", n=i) for i in range(20)]
    cursors = await api.publish(project, published)
    async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
        got = await reader.read_events(20)
    assert [m.id for m in got] == cursors
    assert [m.json["id"] for m in got] == [e["id"] for e in published]
    assert {m.event for m in got} == {"job.step"}


async def test_default_start_is_live_only(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project, "old.one")])
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        live = event(project, "new.one")
        await api.publish(project, [live])
        got = await reader.read_events(1)
    assert [m.json["id"] for m in got] == [live["id"]]


async def test_resume_with_last_event_id_header_continues_exactly_once(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(10)])
    async with sse(
        api.base, project, api.token(), {"from": "earliest"}, {"Last-Event-ID": cursors[3]}
    ) as reader:
        got = await reader.read_events(6)
    assert [m.id for m in got] == cursors[4:]


async def test_resume_with_last_event_id_query_parameter(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(5)])
    async with sse(api.base, project, api.token(), {"last_event_id": cursors[1]}) as reader:
        got = await reader.read_events(3)
    assert [m.id for m in got] == cursors[2:]


async def test_header_cursor_wins_over_query_cursor(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(5)])
    params = {"last_event_id": cursors[0]}
    async with sse(api.base, project, api.token(), params, {"Last-Event-ID": cursors[2]}) as reader:
        got = await reader.read_events(2)
    assert [m.id for m in got] == cursors[3:]


async def test_resume_replays_then_continues_live_without_gap(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(5)])
    async with sse(api.base, project, api.token(), {"last_event_id": cursors[2]}) as reader:
        await reader.read_events(2)
        later = await api.publish(project, [event(project, n=i) for i in range(5, 8)])
        got = await reader.read_events(5)
    assert [m.id for m in got] == cursors[3:] + later


async def test_since_starts_at_the_first_event_stored_after_it(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project, "before.it")])
    [stored] = await api.runtime.store.read_aggregate(project, "a1")
    since = (await instant_after(stored.stored_ns)).isoformat()
    after = await api.publish(project, [event(project, "after.it"), event(project, "after.it")])
    async with sse(api.base, project, api.token(), {"since": since}) as reader:
        got = await reader.read_events(2)
    assert [m.id for m in got] == after


async def test_type_patterns_and_aggregates_filter_server_side(api: StreamAPI, project: str) -> None:
    published = [
        event(project, "workflow.node.started", "run-1"),
        event(project, "workflow.node.completed", "run-2"),
        event(project, "agent.step.updated", "run-1"),
        event(project, "workflow.run.completed", "run-1"),
        event(project, "workflow.node.completed", "run-1"),
    ]
    cursors = await api.publish(project, published)
    params = {"from": "earliest", "types": "workflow.node.*", "aggregates": "run-1"}
    async with sse(api.base, project, api.token(), params) as reader:
        got = await reader.read_events(2)
        await api.publish(project, [event(project, "workflow.node.failed", "run-2")])
        last = event(project, "workflow.node.failed", "run-1")
        last_cursor = await api.publish(project, [last])
        got = await reader.read_events(3)
    assert [m.id for m in got] == [cursors[0], cursors[4], last_cursor[0]]


async def test_idle_stream_sends_heartbeat_comments(api: StreamAPI, project: str) -> None:
    async with sse(api.base, project, api.token()) as reader:
        messages = await reader.read_until(
            lambda ms: sum(m.comment == "heartbeat" for m in ms) >= 2, timeout=5
        )
    assert sum(m.comment == "heartbeat" for m in messages) >= 2


async def test_cursor_older_than_retention_gets_a_reset(
    start_api: StartAPI, tmp_path: Path, project: str
) -> None:
    with EmbeddedNats(tmp_path) as server:
        nc = await nats.connect(server.url)
        await EventStore(nc).ensure_stream(StreamSettings(max_msgs=5))
        await nc.close()
        api = await start_api(server.url, stream_max_msgs=5)
        cursors = await api.publish(project, [event(project, n=i) for i in range(12)])
        async with sse(api.base, project, api.token(), {"last_event_id": cursors[1]}) as reader:
            messages = await reader.read_until(lambda ms: len(events_of(ms)) >= 5)
    resets = [m for m in messages if m.event == "reset"]
    assert [r.json for r in resets] == [{"earliest": cursors[7], "requested": cursors[1]}]
    assert [m.id for m in events_of(messages)] == cursors[7:]


async def test_disconnect_frees_the_client_and_its_subscription(api: StreamAPI, project: str) -> None:
    tasks_before = asyncio.all_tasks()
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        await eventually(lambda: len(api.runtime.hub.index) > 0, timeout=1)
        assert len(api.runtime.clients) == 1
        assert len(api.runtime.hub.index) == 1
    await eventually(lambda: not api.runtime.clients and not len(api.runtime.hub.index), timeout=2)
    # No stream task or generator left running: every task started since the stream opened has ended.
    await eventually(lambda: asyncio.all_tasks() <= tasks_before, timeout=2)


async def test_disconnect_during_replay_removes_its_consumer(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project, n=i) for i in range(1000)])
    js = api.runtime.nc.jetstream()
    before = (await js.stream_info("EVENTS")).state.consumer_count
    async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
        await reader.read_events(1)

    async def consumer_removed() -> bool:
        return (await js.stream_info("EVENTS")).state.consumer_count <= before and not api.runtime.clients

    await eventually(consumer_removed, timeout=5)


async def test_missing_token_is_401_problem(api: StreamAPI, project: str) -> None:
    response = await api.http.get(f"/v1/projects/{project}/events/stream")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_for_another_project_is_403(api: StreamAPI, project: str) -> None:
    response = await api.http.get(
        f"/v1/projects/{project}/events/stream", headers={"Authorization": f"Bearer {api.token(['other'])}"}
    )
    assert (response.status_code, response.json()["field"]) == (403, "project")


async def test_access_token_query_parameter_authenticates(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project)])
    async with (
        httpx.AsyncClient(base_url=api.base, timeout=10) as http,
        http.stream(
            "GET",
            f"/v1/projects/{project}/events/stream",
            params={"access_token": api.token([project]), "from": "earliest"},
        ) as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_text():
            if f"id: {cursors[0]}" in chunk:
                break


async def test_invalid_parameters_are_400_naming_the_field(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    head = (await api.runtime.store.bounds()).last_seq
    cases = {
        "types": {"types": "Not.Valid"},
        "aggregates": {"aggregates": "a b"},
        "last_event_id": {"last_event_id": "abc"},
        "from": {"from": "beginning"},
        "since": {"since": "yesterday"},
    }
    for field, params in cases.items():
        response = await api.http.get(
            f"/v1/projects/{project}/events/stream",
            params=params,
            headers={"Authorization": f"Bearer {api.token()}"},
        )
        assert (response.status_code, response.json()["field"]) == (400, field), response.text
    past = await api.http.get(
        f"/v1/projects/{project}/events/stream",
        headers={"Authorization": f"Bearer {api.token()}", "Last-Event-ID": str(head + 1000)},
    )
    assert (past.status_code, past.json()["field"]) == (400, "Last-Event-ID")
    assert "past the head" in past.json()["detail"]


async def test_connections_past_the_limit_get_503_with_retry_after(start_api: StartAPI, project: str) -> None:
    api = await start_api(max_connections=2)
    async with sse(api.base, project, api.token()), sse(api.base, project, api.token()):
        response = await api.http.get(
            f"/v1/projects/{project}/events/stream", headers={"Authorization": f"Bearer {api.token()}"}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_shutdown_sends_close_to_open_streams(api: StreamAPI, project: str) -> None:
    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        api.runtime.begin_shutdown()
        messages = await reader.read_to_end(timeout=5)
    assert messages[-1].event == "close"


async def test_cors_is_off_by_default(api: StreamAPI, project: str) -> None:
    response = await api.http.options(
        f"/v1/projects/{project}/events/stream",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_configured_origins_may_call_from_browsers(start_api: StartAPI, project: str) -> None:
    api = await start_api(cors_origins="https://app.example")
    response = await api.http.options(
        f"/v1/projects/{project}/events/stream",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,last-event-id",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "https://app.example"
