"""One grammar for cursors and filter lists on every transport: what is refused, and by which name."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.stream_api.conftest import StreamAPI, event
from tests.support.stream_clients import poll

FULLWIDTH_ONE = "１"  # U+FF11: a digit to Python's int() and `\d`, not a cursor


async def sse_get(
    api: StreamAPI, project: str, params: dict[str, str], headers: dict[str, Any] | None = None
) -> httpx.Response:
    return await api.http.get(
        f"/v1/projects/{project}/events/stream",
        params=params,
        headers={"Authorization": f"Bearer {api.token()}", **(headers or {})},
    )


async def ws_refusal(api: StreamAPI, project: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    query = httpx.QueryParams({"access_token": api.token(), **params})
    url = api.base.replace("http://", "ws://") + f"/v1/projects/{project}/events/ws?{query}"
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(url, open_timeout=5):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def test_fullwidth_digit_cursor_is_refused_by_polling(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    response = await poll(api.http, project, api.token(), last_event_id=FULLWIDTH_ONE)
    assert (response.status_code, response.json()["field"]) == (400, "last_event_id")


async def test_fullwidth_digit_cursor_is_refused_by_sse_query(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    response = await sse_get(api, project, {"last_event_id": FULLWIDTH_ONE})
    assert (response.status_code, response.json()["field"]) == (400, "last_event_id")


async def test_fullwidth_digit_cursor_is_refused_by_sse_header(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    response = await sse_get(api, project, {}, {"Last-Event-ID": FULLWIDTH_ONE.encode()})
    assert (response.status_code, response.json()["field"]) == (400, "Last-Event-ID")


async def test_fullwidth_digit_cursor_is_refused_by_websocket(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    status, problem = await ws_refusal(api, project, {"last_event_id": FULLWIDTH_ONE})
    assert (status, problem["field"]) == (400, "last_event_id")


EMPTY_ENTRIES = [("types", ","), ("types", "a,,b"), ("types", "test.happened,"), ("aggregates", ",")]


@pytest.mark.parametrize(("name", "value"), EMPTY_ENTRIES)
async def test_empty_filter_entries_are_refused_by_polling(
    api: StreamAPI, project: str, name: str, value: str
) -> None:
    response = await poll(api.http, project, api.token(), **{name: value})
    assert (response.status_code, response.json()["field"]) == (400, name)
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("name", "value"), EMPTY_ENTRIES)
async def test_empty_filter_entries_are_refused_by_sse(
    api: StreamAPI, project: str, name: str, value: str
) -> None:
    response = await sse_get(api, project, {name: value})
    assert (response.status_code, response.json()["field"]) == (400, name)


@pytest.mark.parametrize(("name", "value"), EMPTY_ENTRIES)
async def test_empty_filter_entries_are_refused_by_websocket(
    api: StreamAPI, project: str, name: str, value: str
) -> None:
    status, problem = await ws_refusal(api, project, {name: value})
    assert (status, problem["field"]) == (400, name)
