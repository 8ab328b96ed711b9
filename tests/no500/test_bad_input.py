"""Bad input of any shape is a 4xx application/problem+json naming the input, on every service."""

from __future__ import annotations

from typing import Any, Final

import httpx
import msgspec
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from runwire.web.problems import PROBLEM_JSON
from tests.no500.services import SERVICES, Services

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROJECT: Final = "no-500"

# Every endpoint that reads a JSON body of its own: (service, path).
CREATES: Final = [
    ("stream-api", f"/v1/projects/{PROJECT}/events"),
    ("ingest", f"/v1/projects/{PROJECT}/ingest/jobs"),
    ("agent", f"/v1/projects/{PROJECT}/agent/runs"),
    ("workflow", f"/v1/projects/{PROJECT}/workflow/runs"),
    ("workflow", f"/v1/projects/{PROJECT}/workflow/definitions/validate"),
]
CREATE_IDS: Final = [path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] for _, path in CREATES]

# A body each create endpoint would take, with `\xff` bytes in a string value.
INVALID_UTF8: Final = {
    "events": b'{"specversion":"1.0","id":"e1","source":"/t","type":"t.\xff\xfe","project":"no-500"}',
    "jobs": b'{"text":"caf\xe9 au lait"}',
    "runs": b'{"prompt":"caf\xe9"}',
    "workflow": b'{"nodes":[{"id":"a","kind":"delay","seconds":0,"name":"\xff"}]}',
}
PROBLEM_FIELDS: Final = {"type", "title", "status", "detail"}


def body_with_invalid_utf8(path: str) -> bytes:
    if "/workflow/" in path:
        return INVALID_UTF8["workflow"]
    return INVALID_UTF8[path.rsplit("/", 1)[-1]]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def body_with_deep_data(path: str, depth: int) -> bytes:
    deep = nested(depth)
    if path.endswith("/events"):
        return (
            b'{"specversion":"1.0","id":"e1","source":"/t","type":"t.x","project":"no-500","data":'
            + deep
            + b"}"
        )
    if path.endswith("/jobs"):
        return b'{"text":' + deep + b"}"
    if path.endswith("/runs") and "/agent/" in path:
        return b'{"prompt":' + deep + b"}"
    return b'{"nodes":' + deep + b"}"


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem.keys() >= PROBLEM_FIELDS
    assert problem["status"] == status
    if field is not None:
        assert problem["field"] == field, problem
    return problem


async def post(
    services: Services, service: str, path: str, body: bytes, media: str = "application/json"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=services.urls[service], timeout=30) as http:
        return await http.post(path, content=body, headers={**services.auth, "Content-Type": media})


@pytest.mark.parametrize(("service", "path"), CREATES, ids=CREATE_IDS)
async def test_a_body_with_invalid_utf8_is_a_400_naming_the_body(
    services: Services, service: str, path: str
) -> None:
    problem = assert_problem(await post(services, service, path, body_with_invalid_utf8(path)), 400, "body")
    assert "UTF-8" in problem["detail"]


@pytest.mark.parametrize(("service", "path"), CREATES, ids=CREATE_IDS)
async def test_json_nested_too_deeply_is_a_400_naming_the_body(
    services: Services, service: str, path: str
) -> None:
    problem = assert_problem(
        await post(services, service, path, body_with_deep_data(path, 20_000)), 400, "body"
    )
    assert "nested" in problem["detail"]


async def test_an_event_whose_data_is_nested_100_000_deep_is_a_400_naming_the_body(
    services: Services,
) -> None:
    response = await post(services, "stream-api", CREATES[0][1], body_with_deep_data(CREATES[0][1], 100_000))
    assert "nested" in assert_problem(response, 400, "body")["detail"]


@pytest.mark.parametrize("kind", ["{}", '["x"]', "1", "null"])
@pytest.mark.parametrize("endpoint", ["runs", "definitions/validate"])
async def test_a_workflow_node_kind_that_is_not_a_string_is_a_400_naming_it(
    services: Services, endpoint: str, kind: str
) -> None:
    body = b'{"nodes":[{"id":"a","kind":%s,"seconds":0}]}' % kind.encode()
    response = await post(services, "workflow", f"/v1/projects/{PROJECT}/workflow/{endpoint}", body)
    assert_problem(response, 400, "nodes[0].kind")


@pytest.mark.parametrize("kind", ["{}", "[x]"])
async def test_a_yaml_workflow_node_kind_that_is_not_a_string_is_a_400_naming_it(
    services: Services, kind: str
) -> None:
    body = f"nodes:\n  - id: a\n    kind: {kind}\n    seconds: 0\n".encode()
    path = f"/v1/projects/{PROJECT}/workflow/definitions/validate"
    assert_problem(await post(services, "workflow", path, body, "application/yaml"), 400, "nodes[0].kind")


@pytest.mark.parametrize(("service", "path"), CREATES, ids=CREATE_IDS)
async def test_a_body_over_the_limit_is_a_413_problem(services: Services, service: str, path: str) -> None:
    body = b'{"text":"' + b"a" * (9 * 1024 * 1024) + b'"}'
    problem = assert_problem(await post(services, service, path, body), 413)
    assert problem["type"] == "urn:runwire:problem:payload-too-large"


async def get_health(services: Services, service: str, headers: list[tuple[str, str]]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=services.urls[service], timeout=30) as http:
        return await http.get("/healthz", headers=headers)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_header_field_over_8_KiB_is_a_431_problem(services: Services, service: str) -> None:
    response = await get_health(services, service, [("X-Big", "a" * 1_000_000)])
    assert_problem(response, 431, "x-big")


@pytest.mark.parametrize("service", SERVICES)
async def test_more_than_100_header_fields_is_a_431_problem(services: Services, service: str) -> None:
    response = await get_health(services, service, [(f"X-H{i}", "v") for i in range(1000)])
    assert "at most 100" in assert_problem(response, 431)["detail"]


@pytest.mark.parametrize("service", SERVICES)
async def test_header_fields_over_64_KiB_in_total_are_a_431_problem(services: Services, service: str) -> None:
    response = await get_health(services, service, [(f"X-H{i}", "a" * 8000) for i in range(9)])
    assert "total" in assert_problem(response, 431)["detail"]


@pytest.mark.parametrize("service", SERVICES)
async def test_header_fields_at_the_limits_are_served(services: Services, service: str) -> None:
    at_limit = [(f"X-H{i:02}", "a" * 600) for i in range(90)] + [("X-Line", "a" * (8 * 1024 - 8))]
    assert (await get_health(services, service, at_limit)).status_code == 200


async def test_a_websocket_upgrade_with_more_than_100_header_fields_is_refused_with_431(
    services: Services,
) -> None:
    url = services.urls["stream-api"].replace("http://", "ws://") + f"/v1/projects/{PROJECT}/events/ws"
    headers = [(f"X-H{i}", "v") for i in range(110)]
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(f"{url}?access_token={services.token}", additional_headers=headers):
            pass
    assert caught.value.response.status_code == 431
    assert caught.value.response.headers["content-type"] == PROBLEM_JSON


async def test_a_published_event_larger_than_the_nats_max_payload_is_a_413_naming_it(
    services: Services,
) -> None:
    small = {"specversion": "1.0", "id": "small", "source": "/t", "type": "t.x", "project": PROJECT}
    big = {**small, "id": "big", "data": {"x": "a" * 1_100_000}}
    body = msgspec.json.encode([small, big])
    response = await post(services, "stream-api", f"/v1/projects/{PROJECT}/events", body)
    problem = assert_problem(response, 413, "[1]")
    assert "max_payload" in problem["detail"]


async def test_a_workflow_definition_whose_run_would_exceed_the_nats_max_payload_is_a_413(
    services: Services,
) -> None:
    nodes = [{"id": f"n{i}", "kind": "ingest", "document": "a" * 10_420} for i in range(100)]
    body = msgspec.json.encode({"nodes": nodes})
    assert len(body) < 1024 * 1024
    response = await post(services, "workflow", f"/v1/projects/{PROJECT}/workflow/runs", body)
    assert "max_payload" in assert_problem(response, 413)["detail"]


async def test_a_yaml_definition_with_invalid_utf8_is_a_400_naming_the_body(services: Services) -> None:
    body = b"nodes:\n  - id: a\n    kind: delay\n    seconds: 0\n    name: \xff\xfe\n"
    path = f"/v1/projects/{PROJECT}/workflow/definitions/validate"
    assert_problem(await post(services, "workflow", path, body, "application/yaml"), 400, "body")


async def test_a_deeply_nested_yaml_definition_is_a_400(services: Services) -> None:
    body = b"nodes: " + b"[" * 20_000 + b"]" * 20_000
    path = f"/v1/projects/{PROJECT}/workflow/definitions/validate"
    assert_problem(await post(services, "workflow", path, body, "application/yaml"), 400)
