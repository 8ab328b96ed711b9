"""The agent HTTP API through a real socket: idempotency, projections and every error answer."""

from __future__ import annotations

import httpx

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import auth, types_of, wait_for_type

DONE = ("agent.run.completed", "agent.run.failed", "agent.run.cancelled")


async def test_create_returns_201_with_the_queued_run(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post("/runs", json={"prompt": "what is 1 + 1", "max_steps": 3})
    assert response.status_code == 201
    run = response.json()
    assert (run["project"], run["prompt"], run["policy"], run["max_steps"], run["sources"]) == (
        project,
        "what is 1 + 1",
        "deterministic",
        3,
        [],
    )
    assert response.headers["location"] == f"/v1/projects/{project}/agent/runs/{run['id']}"


async def test_repeat_with_same_idempotency_key_returns_200_and_the_same_run(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    body = {"prompt": "what is 1 + 1"}
    first = await client.post("/runs", json=body, headers={"Idempotency-Key": "a-1"})
    again = await client.post("/runs", json=body, headers={"Idempotency-Key": "a-1"})
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])
    await wait_for_type(store, project, first.json()["id"], DONE)
    assert (await types_of(store, project, first.json()["id"])).count("agent.run.created") == 1


async def test_same_idempotency_key_with_another_prompt_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/runs", json={"prompt": "one"}, headers={"Idempotency-Key": "a-2"})
    response = await client.post("/runs", json={"prompt": "two"}, headers={"Idempotency-Key": "a-2"})
    assert (response.status_code, response.json()["type"]) == (
        409,
        "urn:runwire:problem:idempotency-key-reused",
    )


async def test_list_returns_the_projects_runs_oldest_first(client: httpx.AsyncClient) -> None:
    first = (await client.post("/runs", json={"prompt": "one"})).json()["id"]
    second = (await client.post("/runs", json={"prompt": "two"})).json()["id"]
    assert [r["id"] for r in (await client.get("/runs")).json()["runs"]] == [first, second]


async def test_unknown_policy_is_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/runs", json={"prompt": "x", "policy": "gpt-9"})
    assert response.status_code == 400
    assert response.json()["field"] == "policy"
    assert response.json()["detail"] == "unknown policy 'gpt-9'; available: deterministic"


async def test_empty_prompt_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/runs", json={"prompt": ""})
    assert (response.status_code, response.json()["field"]) == (400, "prompt")


async def test_a_source_that_is_not_a_job_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/runs", json={"prompt": "x", "sources": ["not a job"]})
    assert response.status_code == 400


async def test_missing_token_is_401(agent_url: str, project: str) -> None:
    response = await httpx.AsyncClient().get(f"{agent_url}/v1/projects/{project}/agent/runs")
    assert response.status_code == 401


async def test_token_for_another_project_is_403(agent_url: str, project: str) -> None:
    async with httpx.AsyncClient(headers=auth("other")) as other:
        response = await other.post(f"{agent_url}/v1/projects/{project}/agent/runs", json={"prompt": "x"})
    assert response.status_code == 403


async def test_unknown_run_is_404(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get("/runs/run-missing")
    assert (response.status_code, response.json()["detail"]) == (
        404,
        f"agent run run-missing not found in project {project}",
    )


async def test_approve_of_an_unknown_run_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/runs/run-missing/approve")).status_code == 404


async def test_approve_without_a_pending_approval_is_409(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "1 + 1"})).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    response = await client.post(f"/runs/{run_id}/approve")
    assert response.status_code == 409
    assert response.json()["detail"] == f"cannot approve agent run {run_id}: it is already completed"


async def test_message_to_a_completed_run_is_409(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "1 + 1"})).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    response = await client.post(f"/runs/{run_id}/messages", json={"content": "more?"})
    assert (response.status_code, response.json()["type"]) == (409, "urn:runwire:problem:invalid-transition")


async def test_cancel_of_a_completed_run_is_409(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "1 + 1"})).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    assert (await client.post(f"/runs/{run_id}/cancel")).status_code == 409


async def test_openapi_documents_every_run_route(agent_url: str) -> None:
    paths = set((await httpx.AsyncClient().get(f"{agent_url}/schema/openapi.json")).json()["paths"])
    base = "/v1/projects/{project}/agent/runs"
    assert {base, f"{base}/{{run_id}}"} | {
        f"{base}/{{run_id}}/{verb}" for verb in ("messages", "approve", "reject", "cancel")
    } <= paths
