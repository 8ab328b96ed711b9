"""HTTP publish: 202 with cursors, arrays in order, dedup by id, and every refusal named."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS

from tests.stream_api.conftest import StreamAPI, event
from tests.support.stream_clients import poll


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


# ------------------------------------------------------------------------ dedup identity


def items(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_same_id_in_two_projects_is_stored_and_served_in_both(api: StreamAPI, project: str) -> None:
    other = project + "-b"
    first = {**event(project), "id": "order-1"}
    second = {**event(other), "id": "order-1", "source": "/elsewhere"}
    answers = [(await post(api, p, e)).json()["events"][0] for p, e in ((project, first), (other, second))]
    assert [a["duplicate"] for a in answers] == [False, False]
    assert answers[0]["cursor"] != answers[1]["cursor"]
    for p, published in ((project, first), (other, second)):
        served = items(await poll(api.http, p, api.token(), **{"from": "earliest"}))
        assert [i["event"] for i in served] == [published]


async def test_same_id_from_two_sources_in_one_project_is_stored_twice(api: StreamAPI, project: str) -> None:
    first = {**event(project), "id": "order-1"}
    second = {**first, "source": "https://example.com/other-producer"}
    answers = (await post(api, project, [first, second])).json()["events"]
    assert [a["duplicate"] for a in answers] == [False, False]
    served = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert [i["event"] for i in served] == [first, second]


async def test_the_same_event_twice_is_stored_once_and_answered_with_the_first_cursor(
    api: StreamAPI, project: str
) -> None:
    published = event(project)
    first = (await post(api, project, published)).json()["events"][0]
    again = (await post(api, project, [published])).json()["events"][0]
    assert again == {"id": published["id"], "cursor": first["cursor"], "duplicate": True}
    served = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert [i["id"] for i in served] == [first["cursor"]]


async def test_a_raw_nats_producer_setting_the_documented_header_is_deduplicated_against_http(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    published = event(project)
    first = (await post(api, project, published)).json()["events"][0]
    ack = await nc.request(
        f"events.{project}.a1.test.happened",
        json.dumps(published).encode(),
        timeout=5,
        headers={"Nats-Msg-Id": f"{project} {published['source']} {published['id']}"},
    )
    assert json.loads(ack.data) | {"stream": "EVENTS"} == {
        "stream": "EVENTS",
        "seq": int(first["cursor"]),
        "duplicate": True,
    }


async def test_an_http_publish_after_a_raw_nats_producer_is_a_duplicate(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    published = event(project)
    ack = await nc.request(
        f"events.{project}.a1.test.happened",
        json.dumps(published).encode(),
        timeout=5,
        headers={"Nats-Msg-Id": f"{project} {published['source']} {published['id']}"},
    )
    answer = (await post(api, project, published)).json()["events"][0]
    assert answer == {"id": published["id"], "cursor": str(json.loads(ack.data)["seq"]), "duplicate": True}


# ------------------------------------------------------------------- CloudEvents conformance


async def test_extension_attributes_are_stored_and_served_verbatim(api: StreamAPI, project: str) -> None:
    published = {**event(project), "partitionkey": "order-7", "priority": 3, "sampled": True}
    assert (await post(api, project, published)).status_code == 202
    [served] = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert served["event"] == published


async def test_an_attribute_breaking_the_naming_rules_is_400_naming_it(api: StreamAPI, project: str) -> None:
    response = await post(api, project, {**event(project), "partition_key": "x"})
    assert (response.status_code, response.json()["field"]) == (400, "partition_key")


@pytest.mark.parametrize(
    "traceparent",
    [
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    ],
)
async def test_an_invalid_w3c_traceparent_is_refused_naming_it(
    api: StreamAPI, project: str, traceparent: str
) -> None:
    response = await post(api, project, {**event(project), "traceparent": traceparent})
    assert (response.status_code, response.json()["field"]) == (400, "traceparent")


@pytest.mark.parametrize(
    ("field", "value"), [("source", "not a uri"), ("dataschema", "relative/schema.json")]
)
async def test_source_and_dataschema_must_be_uris(
    api: StreamAPI, project: str, field: str, value: str
) -> None:
    response = await post(api, project, {**event(project), field: value})
    assert (response.status_code, response.json()["field"]) == (400, field)


@pytest.mark.parametrize(
    ("content_type", "array"),
    [("application/cloudevents+json", False), ("application/cloudevents-batch+json", True)],
)
async def test_structured_cloudevents_media_types_are_accepted(
    api: StreamAPI, project: str, content_type: str, array: bool
) -> None:
    published = event(project)
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=json.dumps([published] if array else published).encode(),
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": f"{content_type}; charset=utf-8"},
    )
    assert response.status_code == 202, response.text
    [served] = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert served["event"] == published


def binary_headers(api: StreamAPI, project: str, content_type: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api.token()}",
        "Content-Type": content_type,
        "ce-specversion": "1.0",
        "ce-id": "bin-1",
        "ce-source": "/producers/go",
        "ce-type": "order.placed",
        "ce-subject": "a1",
        "ce-time": "2026-11-21T22:48:16Z",
        "ce-project": project,
        "ce-partitionkey": "order%207",
    }


async def test_binary_mode_is_stored_as_the_structured_event(api: StreamAPI, project: str) -> None:
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=b'{"total": 12.5,\n "items": [1, 2]}',
        headers=binary_headers(api, project, "application/json"),
    )
    assert response.status_code == 202, response.text
    [served] = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert served["event"] == {
        "specversion": "1.0",
        "id": "bin-1",
        "source": "/producers/go",
        "type": "order.placed",
        "subject": "a1",
        "time": "2026-11-21T22:48:16Z",
        "datacontenttype": "application/json",
        "project": project,
        "data": {"total": 12.5, "items": [1, 2]},
        "partitionkey": "order 7",
    }


async def test_binary_mode_with_a_non_json_body_keeps_it_as_data_base64(api: StreamAPI, project: str) -> None:
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=b"\x00\x01raw",
        headers=binary_headers(api, project, "application/octet-stream"),
    )
    assert response.status_code == 202, response.text
    [served] = items(await poll(api.http, project, api.token(), **{"from": "earliest"}))
    assert served["event"]["data_base64"] == "AAFyYXc="
    assert served["event"]["datacontenttype"] == "application/octet-stream"


async def test_binary_mode_names_the_invalid_header(api: StreamAPI, project: str) -> None:
    headers = {**binary_headers(api, project, "application/json"), "ce-type": "Not Valid"}
    response = await api.http.post(f"/v1/projects/{project}/events", content=b"{}", headers=headers)
    problem = response.json()
    assert (response.status_code, problem["field"], problem["errors"][0]["source"]) == (
        400,
        "ce-type",
        "header",
    )


async def test_other_cloudevents_formats_are_415_problem(api: StreamAPI, project: str) -> None:
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=b"<event/>",
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": "application/cloudevents+xml"},
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "application/cloudevents+json" in response.json()["detail"]
