"""The workflow HTTP API through a real socket: definitions as JSON or YAML, idempotency, errors."""

from __future__ import annotations

from typing import Any

import httpx

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import auth, types_of, wait_for_type

DONE = ("workflow.run.completed", "workflow.run.failed", "workflow.run.cancelled")
DELAY_ONLY: dict[str, Any] = {"name": "tiny", "nodes": [{"id": "nap", "kind": "delay", "seconds": 0.05}]}
GATE_ONLY: dict[str, Any] = {"nodes": [{"id": "ok", "kind": "gate", "message": "go?"}]}


async def test_create_returns_201_with_the_started_run(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post("/runs", json=DELAY_ONLY)
    assert response.status_code == 201
    run = response.json()
    assert (run["project"], run["name"], run["status"]) == (project, "tiny", "running")
    assert [(n["id"], n["kind"], n["status"]) for n in run["nodes"]] == [("nap", "delay", "running")]
    assert response.headers["location"] == f"/v1/projects/{project}/workflow/runs/{run['id']}"


async def test_a_yaml_definition_creates_the_same_run(client: httpx.AsyncClient) -> None:
    yaml = "name: tiny\nnodes:\n  - id: nap\n    kind: delay\n    seconds: 0.05\n"
    response = await client.post("/runs", content=yaml, headers={"content-type": "application/yaml"})
    assert response.status_code == 201
    assert response.json()["definition"] == {
        "name": "tiny",
        "nodes": [{"kind": "delay", "id": "nap", "needs": [], "seconds": 0.05}],
    }


async def test_repeat_with_same_idempotency_key_returns_200_and_the_same_run(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    first = await client.post("/runs", json=DELAY_ONLY, headers={"Idempotency-Key": "w-1"})
    again = await client.post("/runs", json=DELAY_ONLY, headers={"Idempotency-Key": "w-1"})
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])
    await wait_for_type(store, project, first.json()["id"], DONE)
    assert (await types_of(store, project, first.json()["id"])).count("workflow.run.created") == 1


async def test_same_idempotency_key_with_another_definition_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/runs", json=DELAY_ONLY, headers={"Idempotency-Key": "w-2"})
    response = await client.post("/runs", json=GATE_ONLY, headers={"Idempotency-Key": "w-2"})
    assert (response.status_code, response.json()["field"]) == (409, "Idempotency-Key")


async def test_an_unknown_kind_is_400_naming_the_node(client: httpx.AsyncClient) -> None:
    response = await client.post("/runs", json={"nodes": [{"id": "mail", "kind": "email"}]})
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["detail"]) == (
        "nodes[0].kind",
        "node 'mail': unknown kind 'email'; a node is one of ingest, agent, gate, delay",
    )


async def test_a_cycle_is_400_naming_the_node(client: httpx.AsyncClient) -> None:
    cyclic = {
        "nodes": [
            {"id": "a", "kind": "delay", "seconds": 1, "needs": ["b"]},
            {"id": "b", "kind": "delay", "seconds": 1, "needs": ["a"]},
        ]
    }
    response = await client.post("/runs", json=cyclic)
    assert (response.status_code, response.json()["detail"]) == (400, "node 'a' is in a cycle: a -> b -> a")


async def test_an_unknown_dependency_is_400_naming_the_node(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/runs", json={"nodes": [{"id": "a", "kind": "delay", "seconds": 1, "needs": ["x"]}]}
    )
    assert (response.status_code, response.json()["detail"]) == (400, "node 'a' needs unknown node 'x'")


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/runs", content=b"{nope", headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["field"]) == (400, "body")


async def test_validate_returns_the_run_order(client: httpx.AsyncClient) -> None:
    definition = {
        "nodes": [{"id": "b", "kind": "delay", "seconds": 1, "needs": ["a"]}, {"id": "a", "kind": "gate"}]
    }
    response = await client.post("/definitions/validate", json=definition)
    assert response.status_code == 200
    assert (response.json()["order"], response.json()["nodes"]) == (["a", "b"], 2)


async def test_list_returns_the_projects_runs_oldest_first(client: httpx.AsyncClient) -> None:
    first = (await client.post("/runs", json=DELAY_ONLY)).json()["id"]
    second = (await client.post("/runs", json=GATE_ONLY)).json()["id"]
    assert [r["id"] for r in (await client.get("/runs")).json()["runs"]] == [first, second]


async def test_missing_token_is_401(workflow_url: str, project: str) -> None:
    response = await httpx.AsyncClient().post(
        f"{workflow_url}/v1/projects/{project}/workflow/runs", json=DELAY_ONLY
    )
    assert response.status_code == 401


async def test_token_for_another_project_is_403(workflow_url: str, project: str) -> None:
    async with httpx.AsyncClient(headers=auth("elsewhere")) as other:
        response = await other.get(f"{workflow_url}/v1/projects/{project}/workflow/runs")
    assert response.status_code == 403


async def test_unknown_run_is_404(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get("/runs/wf-missing")
    assert (response.status_code, response.json()["detail"]) == (
        404,
        f"workflow run wf-missing not found in project {project}",
    )


async def test_approving_an_unknown_gate_is_404(client: httpx.AsyncClient) -> None:
    run_id = (await client.post("/runs", json=GATE_ONLY)).json()["id"]
    response = await client.post(f"/runs/{run_id}/gates/nope/approve")
    assert (response.status_code, response.json()["detail"]) == (
        404,
        f"workflow run {run_id} has no node 'nope'",
    )


async def test_approving_a_node_that_is_not_a_paused_gate_is_409(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json=DELAY_ONLY)).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    response = await client.post(f"/runs/{run_id}/gates/nap/approve")
    assert (response.status_code, response.json()["detail"]) == (
        409,
        f"cannot decide a gate of workflow run {run_id}: it is already completed",
    )


async def test_cancel_of_a_completed_run_is_409(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json=DELAY_ONLY)).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    assert (await client.post(f"/runs/{run_id}/cancel")).status_code == 409


async def test_openapi_documents_the_definition_body(workflow_url: str) -> None:
    schema = (await httpx.AsyncClient().get(f"{workflow_url}/schema/openapi.json")).json()
    body = schema["paths"]["/v1/projects/{project}/workflow/runs"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "application/yaml"}
    assert body["content"]["application/yaml"]["schema"] == {"$ref": "#/components/schemas/Definition"}
    assert set(schema["components"]["schemas"]["Definition"]["properties"]) == {"name", "nodes"}
    assert {"IngestNode", "AgentNode", "GateNode", "DelayNode"} <= set(schema["components"]["schemas"])
