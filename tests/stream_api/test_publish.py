"""HTTP publish: 202 with cursors, arrays in order, dedup by id, and every refusal named."""

from __future__ import annotations

import json

import httpx

from tests.stream_api.conftest import StreamAPI, event


async def post(api: StreamAPI, project: str, body: object, token: str | None = None) -> httpx.Response:
    return await api.http.post(
        f"/v1/projects/{project}/events",
        content=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token or api.token()}", "Content-Type": "application/json"},
    )


async def test_one_event_is_accepted_with_its_cursor(api: StreamAPI, project: str) -> None:
    published = event(project)
    response = await post(api, project, published)
    assert response.status_code == 202
    [accepted] = response.json()["events"]
    assert accepted["id"] == published["id"]
    assert accepted["duplicate"] is False
    stored = await api.runtime.store.read_aggregate(project, "a1")
    assert [(str(s.seq), s.event.id) for s in stored] == [(accepted["cursor"], published["id"])]


async def test_an_array_is_stored_in_order(api: StreamAPI, project: str) -> None:
    published = [event(project, n=i) for i in range(5)]
    response = await post(api, project, published)
    cursors = [int(a["cursor"]) for a in response.json()["events"]]
    assert cursors == sorted(cursors)
    stored = await api.runtime.store.read_aggregate(project, "a1")
    assert [s.event.id for s in stored] == [e["id"] for e in published]


async def test_a_repeated_id_is_stored_once_and_reported_duplicate(api: StreamAPI, project: str) -> None:
    published = event(project)
    first = (await post(api, project, published)).json()["events"][0]
    again = (await post(api, project, published)).json()["events"][0]
    assert again == {**first, "duplicate": True}
    assert len(await api.runtime.store.read_aggregate(project, "a1")) == 1


async def test_missing_time_is_stamped_at_publish(api: StreamAPI, project: str) -> None:
    published = event(project)
    del published["time"]
    await post(api, project, published)
    [stored] = await api.runtime.store.read_aggregate(project, "a1")
    assert stored.event.time is not None


async def test_project_mismatch_is_400_naming_the_item(api: StreamAPI, project: str) -> None:
    response = await post(api, project, [event(project), event("elsewhere")])
    assert response.status_code == 400
    assert response.json()["field"] == "[1].project"
    assert await api.runtime.store.read_aggregate(project, "a1") == []


async def test_invalid_attribute_is_400_naming_it_and_nothing_is_stored(api: StreamAPI, project: str) -> None:
    bad = {**event(project), "type": "Not Valid"}
    response = await post(api, project, [event(project), bad])
    problem = response.json()
    assert (response.status_code, problem["field"]) == (400, "[1].type")
    assert problem["type"] == "urn:runwire:problem:invalid-input"
    assert await api.runtime.store.read_aggregate(project, "a1") == []


async def test_malformed_json_is_400(api: StreamAPI, project: str) -> None:
    response = await post(api, project, b'{"id": ')
    assert (response.status_code, response.json()["field"]) == (400, "body")


async def test_oversized_body_is_413(api: StreamAPI, project: str) -> None:
    response = await post(api, project, {**event(project), "data": {"blob": "x" * (9 * 1024 * 1024)}})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_publish_needs_a_token_for_the_project(api: StreamAPI, project: str) -> None:
    assert (await api.http.post(f"/v1/projects/{project}/events", json=event(project))).status_code == 401
    response = await post(api, project, event(project), token=api.token(["other"]))
    assert response.status_code == 403


async def test_published_events_reach_live_streams(api: StreamAPI, project: str) -> None:
    from tests.support.stream_clients import sse

    async with sse(api.base, project, api.token()) as reader:
        await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))
        published = event(project, "live.one")
        await post(api, project, published)
        [got] = await reader.read_events(1)
    assert got.json == published
