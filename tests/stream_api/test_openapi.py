"""The stream API's OpenAPI document describes what the server really reads and answers.

Publish bodies in each documented media type are accepted, and real polling pages and problems
validate against the schemas the document gives them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runwire.contract.envelope import json_schema
from runwire.web.problems import PROBLEM_JSON
from tests.stream_api.conftest import StreamAPI, event

PUBLISH = "/v1/projects/{project}/events"
WS = "/v1/projects/{project}/events/ws"
SSE = "/v1/projects/{project}/events/stream"
MEDIA_TYPES = ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"]


@pytest.fixture
async def document(api: StreamAPI) -> dict[str, Any]:
    response = await api.http.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema validator for a schema of the document, resolving its refs within the document."""
    return Draft202012Validator({**schema, "components": document["components"]})


def component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def without_null_defaults(schema: Any) -> Any:
    """OpenAPI omits `"default": null`; everything else must be the envelope's schema verbatim."""
    if isinstance(schema, dict):
        return {k: without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [without_null_defaults(v) for v in schema]
    return schema


async def test_publish_body_is_a_cloudevent_or_an_array_in_three_media_types(
    document: dict[str, Any],
) -> None:
    body = document["paths"][PUBLISH]["post"]["requestBody"]
    one = component("CloudEvent")
    batch = {"type": "array", "items": one, "minItems": 1, "maxItems": 1000}
    assert body["required"] is True
    assert body["content"] == {
        "application/json": {"schema": {"oneOf": [one, batch]}},
        "application/cloudevents+json": {"schema": one},
        "application/cloudevents-batch+json": {"schema": batch},
    }


async def test_the_cloudevent_schema_is_the_envelopes_json_schema(document: dict[str, Any]) -> None:
    published = json_schema()["$defs"]["CloudEvent"]
    assert document["components"]["schemas"]["CloudEvent"] == without_null_defaults(published)


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
async def test_a_body_in_each_documented_media_type_is_accepted(
    api: StreamAPI, document: dict[str, Any], project: str, media_type: str
) -> None:
    schema = document["paths"][PUBLISH]["post"]["requestBody"]["content"][media_type]["schema"]
    published = [event(project)] if "batch" in media_type else event(project)
    validator(document, schema).validate(published)
    response = await api.http.post(
        f"/v1/projects/{project}/events",
        content=json.dumps(published).encode(),
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": media_type},
    )
    assert response.status_code == 202, response.text


async def test_a_real_poll_page_matches_the_documented_page(
    api: StreamAPI, document: dict[str, Any], project: str
) -> None:
    await api.publish(project, [event(project, n=1), event(project, n=2)])
    response = await api.http.get(
        f"/v1/projects/{project}/events",
        params={"from": "earliest"},
        headers={"Authorization": f"Bearer {api.token()}"},
    )
    ok = document["paths"][PUBLISH]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == component("PollPage")
    validator(document, component("PollPage")).validate(response.json())
    assert len(response.json()["events"]) == 2


async def test_real_problems_match_the_documented_problem(
    api: StreamAPI, document: dict[str, Any], project: str
) -> None:
    invalid = await api.http.get(
        f"/v1/projects/{project}/events",
        params={"limit": "0"},
        headers={"Authorization": f"Bearer {api.token()}"},
    )
    unauthorized = await api.http.get(f"/v1/projects/{project}/events")
    for response in (invalid, unauthorized):
        assert response.headers["content-type"] == PROBLEM_JSON
        validator(document, component("ProblemDetails")).validate(response.json())
    assert (invalid.status_code, unauthorized.status_code) == (400, 401)


async def test_the_websocket_endpoint_is_a_get_answered_101_with_the_stream_parameters(
    document: dict[str, Any],
) -> None:
    operation = document["paths"][WS]["get"]
    assert "101" in operation["responses"]
    assert {"400", "401", "403", "503"} <= set(operation["responses"])
    assert {(p["in"], p["name"]) for p in operation["parameters"]} == {
        ("path", "project"),
        ("query", "types"),
        ("query", "aggregates"),
        ("query", "last_event_id"),
        ("query", "since"),
        ("query", "from"),
        ("query", "access_token"),
        ("header", "Last-Event-ID"),
    }
    assert '{"id": "<cursor>", "event": {CloudEvent}}' in operation["description"]


async def test_the_sse_endpoint_answers_an_event_stream_and_describes_its_frames(
    document: dict[str, Any],
) -> None:
    ok = document["paths"][SSE]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]
    for frame in ("id: <cursor>", ": heartbeat", "event: reset", "event: close"):
        assert frame in ok["description"]
