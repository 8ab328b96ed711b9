"""Every service's OpenAPI document can drive a client generator: valid, every error problem+json.

Each document is read from `/schema/openapi.json` of the service on a real socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from openapi_spec_validator import validate

from runwire.contract.envelope import TOKEN_PATTERN
from runwire.ops.settings import Settings
from runwire.web.problems import PROBLEM_JSON
from runwire_agent.app import create_app as agent_app
from runwire_agent.config import AgentConfig
from runwire_ingest.app import create_app as ingest_app
from runwire_ingest.config import IngestConfig
from runwire_stream_api.app import create_app as stream_app
from runwire_workflow.app import create_app as workflow_app
from runwire_workflow.config import WorkflowConfig
from tests.integration.domain_services import settings_for
from tests.support.http_server import serving

SERVICES: dict[str, Callable[[Settings], Litestar]] = {
    "stream-api": lambda settings: stream_app(settings),
    "ingest": lambda settings: ingest_app(settings, IngestConfig(share_work=False)),
    "agent": lambda settings: agent_app(settings, AgentConfig(share_work=False)),
    "workflow": lambda settings: workflow_app(settings, WorkflowConfig(share_work=False)),
}
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
PROJECT_PATHS = "/v1/projects/{project}/"


@pytest.fixture(params=sorted(SERVICES))
async def document(request: pytest.FixtureRequest, nats_url: str) -> AsyncIterator[dict[str, Any]]:
    """The OpenAPI document a running service serves."""
    app = SERVICES[request.param](settings_for(nats_url))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/schema/openapi.json")
        assert response.status_code == 200
        yield response.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield path, method, operation


async def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


async def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    not_problem = [
        (method, path, status, response.get("content"))
        for path, method, operation in operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45" and response.get("content") != {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    ]
    assert not_problem == []


async def test_every_503_declares_retry_after(document: dict[str, Any]) -> None:
    without = [
        (method, path)
        for path, method, operation in operations(document)
        if "503" in operation["responses"]
        and "Retry-After" not in operation["responses"]["503"].get("headers", {})
    ]
    assert without == []


async def test_every_project_operation_declares_401_403_and_503(document: dict[str, Any]) -> None:
    missing = {
        (method, path): {"401", "403", "503"} - set(operation["responses"])
        for path, method, operation in operations(document)
        if path.startswith(PROJECT_PATHS) and not path.endswith(("/trace", "/definitions/validate"))
    }
    assert {key: value for key, value in missing.items() if value} == {}


async def test_every_body_declares_400_and_413(document: dict[str, Any]) -> None:
    missing = {
        (method, path): {"400", "413"} - set(operation["responses"])
        for path, method, operation in operations(document)
        if "requestBody" in operation
    }
    assert {key: value for key, value in missing.items() if value} == {}


async def test_unauthenticated_operations_need_no_token(document: dict[str, Any]) -> None:
    open_operations = sorted(
        path for path, _, operation in operations(document) if operation.get("security") == []
    )
    assert {"/healthz", "/readyz"} <= set(open_operations)
    assert not any(path.startswith(PROJECT_PATHS) for path in open_operations)


async def test_the_problem_schema_has_the_rfc_9457_members_and_runwire_extras(
    document: dict[str, Any],
) -> None:
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "instance", "field", "errors"} <= set(problem["properties"])
    assert set(problem["required"]) == {"type", "title", "status"}


async def test_every_project_parameter_carries_the_project_id_rule(document: dict[str, Any]) -> None:
    rules = {
        json.dumps(parameter["schema"])
        for _, _, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if (parameter["in"], parameter["name"]) == ("path", "project")
    }
    assert rules == {json.dumps({"type": "string", "pattern": TOKEN_PATTERN})}
