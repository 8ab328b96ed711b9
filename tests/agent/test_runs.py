"""Agent runs end to end against a real nats-server: event order, tools, approvals, messages, cancel."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from nats.aio.client import Client as NATS

from runwire.jetstream.event_store import EventStore
from runwire_agent.app import create_app
from runwire_agent.domain.state import Run
from runwire_agent.policy import Action, FinalAnswer, ToolCall
from runwire_agent.tools.toolbox import Tool
from tests.agent.conftest import FAST
from tests.integration.domain_services import auth, settings_for, types_of, wait_for_type
from tests.support.eventually import eventually
from tests.support.http_server import serving

DONE = ("agent.run.completed", "agent.run.failed", "agent.run.cancelled")


async def finished_run(
    client: httpx.AsyncClient, store: EventStore, project: str, body: dict[str, object]
) -> str:
    run_id: str = (await client.post("/runs", json=body)).json()["id"]
    await wait_for_type(store, project, run_id, DONE)
    return run_id


async def test_a_run_searches_calculates_and_answers_in_order(
    client: httpx.AsyncClient, store: EventStore, project: str, indexed_job: str
) -> None:
    run_id = await finished_run(
        client, store, project, {"prompt": "tell me about foxes and 6 * 7", "sources": [indexed_job]}
    )
    stored = await store.read_aggregate(project, run_id)
    assert [(s.event.type, (s.event.data or {}).get("status")) for s in stored] == [
        ("agent.run.created", None),
        ("agent.message.appended", None),
        ("agent.run.updated", "running"),
        ("agent.step.updated", "running"),
        ("agent.step.updated", "completed"),
        ("agent.step.updated", "running"),
        ("agent.step.updated", "completed"),
        ("agent.message.appended", None),
        ("agent.run.completed", None),
    ]


async def test_search_step_records_the_best_passages(
    client: httpx.AsyncClient, store: EventStore, project: str, indexed_job: str
) -> None:
    run_id = await finished_run(client, store, project, {"prompt": "foxes", "sources": [indexed_job]})
    stored = await store.read_aggregate(project, run_id)
    step = next(
        s.event.data
        for s in stored
        if s.event.type == "agent.step.updated" and s.event.data["status"] == "completed"
    )
    assert step["tool"] == "search"
    assert step["duration_ms"] >= 0
    assert [(h["chunk"], h["score"]) for h in step["output"]["hits"]] == [(0, 1), (1, 1)]
    assert step["output"]["searched_chunks"] == 3


async def test_the_answer_is_the_last_message_and_the_run_result(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await finished_run(client, store, project, {"prompt": "what is 17 * (3 + 4)?"})
    run = (await client.get(f"/runs/{run_id}")).json()
    assert run["answer"] == "17 * (3 + 4) = 119."
    assert run["messages"][-1] == {"role": "assistant", "content": "17 * (3 + 4) = 119."}


async def test_a_failing_tool_fails_its_step_and_the_run_still_answers(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = await finished_run(client, store, project, {"prompt": "what is 1 / 0"})
    run = (await client.get(f"/runs/{run_id}")).json()
    assert (run["status"], run["steps"][0]["status"], run["steps"][0]["error"]) == (
        "completed",
        "failed",
        "division by zero",
    )


async def test_a_risky_tool_waits_for_approval_then_runs(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "publish 6 * 7"})).json()["id"]
    stored = await wait_for_type(store, project, run_id, "agent.approval.requested")
    requested = stored[-2].event.data
    assert (requested["tool"], requested["risk"], requested["step"]) == ("publish_report", "high", 1)
    assert requested["estimated_cost"] > 0
    assert stored[-1].event.data["status"] == "waiting_approval"
    approved = await client.post(f"/runs/{run_id}/approve", json={"comment": "go"})
    assert approved.status_code == 200
    await wait_for_type(store, project, run_id, DONE)
    types = await types_of(store, project, run_id)
    assert types[types.index("agent.approval.requested") :] == [
        "agent.approval.requested",
        "agent.run.updated",
        "agent.approval.granted",
        "agent.run.updated",
        "agent.step.updated",
        "agent.step.updated",
        "agent.message.appended",
        "agent.run.completed",
    ]
    run = (await client.get(f"/runs/{run_id}")).json()
    assert run["steps"][1]["output"]["key"] == f"{project}.{run_id}"


async def test_a_rejected_step_is_skipped_and_the_answer_says_so(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "publish 6 * 7"})).json()["id"]
    await wait_for_type(store, project, run_id, "agent.approval.requested")
    await client.post(f"/runs/{run_id}/reject", json={"reason": "not today"})
    stored = await wait_for_type(store, project, run_id, DONE)
    rejected = next(s.event.data for s in stored if s.event.type == "agent.approval.rejected")
    assert rejected == {"step": 1, "by": "tester", "reason": "not today"}
    run = (await client.get(f"/runs/{run_id}")).json()
    assert run["answer"] == "6 * 7 = 42. I did not run publish_report: the approval was rejected."


async def test_a_message_appended_to_a_running_run_is_answered(
    slow_client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await slow_client.post("/runs", json={"prompt": "what is 6 * 7"})).json()["id"]
    await wait_for_type(store, project, run_id, "agent.step.updated")
    response = await slow_client.post(f"/runs/{run_id}/messages", json={"content": "and 10 - 3?"})
    assert response.status_code == 200
    await wait_for_type(store, project, run_id, DONE)
    run = (await slow_client.get(f"/runs/{run_id}")).json()
    assert [m["role"] for m in run["messages"]] == ["user", "user", "assistant"]
    assert run["answer"] == "6 * 7 = 42. 10 - 3 = 7."


async def test_cancel_while_waiting_for_approval_ends_the_run(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (await client.post("/runs", json={"prompt": "publish this"})).json()["id"]
    await wait_for_type(store, project, run_id, "agent.approval.requested")
    response = await client.post(f"/runs/{run_id}/cancel", json={"reason": "enough"})
    assert response.json()["status"] == "cancelled"
    stored = await store.read_aggregate(project, run_id)
    assert stored[-1].event.type == "agent.run.cancelled"
    assert stored[-1].event.data == {"reason": "enough", "by": "tester"}


async def test_cancel_mid_run_stops_before_the_next_step(
    slow_client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    run_id = (
        await slow_client.post("/runs", json={"prompt": "6 * 7 then 1 + 1", "sources": ["job-x"]})
    ).json()["id"]
    await wait_for_type(store, project, run_id, "agent.step.updated")
    await slow_client.post(f"/runs/{run_id}/cancel")

    async def settled() -> list[str] | None:
        types = await types_of(store, project, run_id)
        return types if types[-1] == "agent.run.cancelled" else None

    types = await eventually(settled)
    assert "agent.run.completed" not in types


class OneCalculation:
    """A stand-in for an LLM client: the Policy protocol is all the runner needs."""

    name = "one-calculation"

    async def next_action(self, run: Run, tools: Mapping[str, Tool]) -> Action:
        if not run.steps:
            return ToolCall("calculator", {"expression": "2 ** 8"})
        return FinalAnswer(f"the model says {run.steps[0].output['value']}")


async def test_a_plugged_in_policy_drives_the_run(nats_url: str, store: EventStore, project: str) -> None:
    app = create_app(settings_for(nats_url), FAST, policies={"one-calculation": OneCalculation()})
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=f"{url}/v1/projects/{project}/agent", headers=auth(project)) as client,
    ):
        run_id = (
            await client.post("/runs", json={"prompt": "anything", "policy": "one-calculation"})
        ).json()["id"]
        await wait_for_type(store, project, run_id, DONE)
        run = (await client.get(f"/runs/{run_id}")).json()
    assert (run["policy"], run["answer"]) == ("one-calculation", "the model says 256")


async def test_a_run_over_its_step_budget_fails_with_the_reason(
    client: httpx.AsyncClient, store: EventStore, project: str, nc: NATS
) -> None:
    run_id = await finished_run(
        client, store, project, {"prompt": "6 * 7", "sources": ["job-x"], "max_steps": 1}
    )
    run = (await client.get(f"/runs/{run_id}")).json()
    assert (run["status"], run["error"]) == ("failed", "the policy did not finish within max_steps=1")
