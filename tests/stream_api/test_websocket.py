"""WebSocket streams: the same events, order and parameters as SSE; refusals with real statuses."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.stream_api.conftest import StreamAPI, event
from tests.support.eventually import eventually
from tests.support.stream_clients import ws, ws_read


async def test_replay_then_live_in_order(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(5)])
    async with ws(api.base, project, api.token(), {"from": "earliest"}) as connection:
        first = await ws_read(connection, 5)
        later = await api.publish(project, [event(project, n=i) for i in range(5, 8)])
        second = await ws_read(connection, 3)
    assert [m["id"] for m in first + second] == cursors + later
    assert [m["event"]["data"]["n"] for m in first + second] == list(range(8))


async def test_resume_after_a_cursor(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(project, [event(project, n=i) for i in range(6)])
    async with ws(api.base, project, api.token(), {"last_event_id": cursors[2]}) as connection:
        got = await ws_read(connection, 3)
    assert [m["id"] for m in got] == cursors[3:]


async def test_filters_apply(api: StreamAPI, project: str) -> None:
    cursors = await api.publish(
        project,
        [event(project, "agent.step.updated", "r1"), event(project, "agent.run.created", "r1")],
    )
    async with ws(api.base, project, api.token(), {"from": "earliest", "types": "agent.run.*"}) as connection:
        got = await ws_read(connection, 1)
    assert [m["id"] for m in got] == [cursors[1]]


@pytest.mark.parametrize(
    ("token_projects", "params", "status"),
    [
        (None, {}, 401),
        (["someone-else"], {}, 403),
        ("*", {"types": "BAD"}, 400),
        ("*", {"last_event_id": "x"}, 400),
    ],
)
async def test_refused_upgrade_answers_with_http_status(
    api: StreamAPI, project: str, token_projects: object, params: dict[str, str], status: int
) -> None:
    url = api.base.replace("http://", "ws://") + f"/v1/projects/{project}/events/ws"
    query = "&".join(f"{k}={v}" for k, v in params.items())
    if token_projects is not None:
        query += ("&" if query else "") + f"access_token={api.token(token_projects)}"
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(f"{url}?{query}", open_timeout=5):
            pass
    response = caught.value.response
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_shutdown_closes_with_1001(api: StreamAPI, project: str) -> None:
    async with ws(api.base, project, api.token()) as connection:
        await eventually(lambda: len(api.runtime.clients) == 1, timeout=1)
        api.runtime.begin_shutdown()
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(connection.recv(), 5)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1001


async def test_client_disconnect_frees_the_stream(api: StreamAPI, project: str) -> None:
    async with ws(api.base, project, api.token()):
        await eventually(lambda: len(api.runtime.clients) == 1, timeout=1)
    await eventually(lambda: api.runtime.clients == set(), timeout=2)
    assert len(api.runtime.hub.index) == 0
