"""Restart safety: kill -9 the agent service mid-run; started again, the run ends terminal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from runwire.jetstream.event_store import EventStore
from runwire_agent.app import create_app
from runwire_agent.config import AgentConfig
from runwire_agent.domain.state import Run
from runwire_agent.policy import Action, FinalAnswer, ToolCall
from runwire_agent.tools.toolbox import Tool
from tests.integration.domain_services import ServiceProcess, auth, settings_for, types_of, wait_for_type
from tests.support.http_server import serving

DONE = ("agent.run.completed", "agent.run.failed", "agent.run.cancelled")


@pytest.fixture
def service(nats_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess("runwire_agent", 2, nats_url, tmp_path, RUNWIRE_AGENT_STEP_DELAY_SECONDS="0.4")
    try:
        yield process
    finally:
        process.stop()


async def test_a_run_killed_mid_run_completes_after_restart(
    service: ServiceProcess, store: EventStore, project: str
) -> None:
    await service.start()
    async with httpx.AsyncClient(base_url=service.base_url, headers=auth(project)) as client:
        response = await client.post(
            f"/v1/projects/{project}/agent/runs", json={"prompt": "foxes and 6 * 7", "sources": ["job-none"]}
        )
    run_id = response.json()["id"]
    await wait_for_type(store, project, run_id, "agent.step.updated")
    service.kill()
    assert not set(await types_of(store, project, run_id)) & set(DONE)

    await service.start()
    stored = await wait_for_type(store, project, run_id, DONE, timeout=30)
    types = [s.event.type for s in stored]
    assert types[:3] == ["agent.run.created", "agent.message.appended", "agent.run.updated"]
    assert types[-2:] == ["agent.message.appended", "agent.run.completed"]
    steps = [s.event.data for s in stored if s.event.type == "agent.step.updated"]
    assert [(s["index"], s["tool"], s["status"]) for s in steps] == [
        (0, "search", "running"),
        (0, "search", "completed"),
        (1, "calculator", "running"),
        (1, "calculator", "completed"),
    ]
    assert (
        stored[-1].event.data["answer"]
        == "I found nothing about 'foxes and 6 * 7' in the indexed documents. 6 * 7 = 42."
    )


class Stalls:
    """A plugged-in policy (as an LLM client would be) that only the first service instance has."""

    name = "custom-llm"

    async def next_action(self, run: Run, tools: Mapping[str, Tool]) -> Action:
        if not run.steps:
            return ToolCall("calculator", {"expression": "1 + 1"})
        return FinalAnswer("done")


async def test_a_run_whose_policy_is_gone_after_restart_fails_with_the_reason(
    nats_url: str, store: EventStore, project: str
) -> None:
    slow = AgentConfig(step_delay_seconds=5.0, share_work=False)
    first = create_app(settings_for(nats_url), slow, policies={"custom-llm": Stalls()})
    async with serving(first) as url, httpx.AsyncClient(headers=auth(project)) as client:
        response = await client.post(
            f"{url}/v1/projects/{project}/agent/runs", json={"prompt": "x", "policy": "custom-llm"}
        )
        run_id = response.json()["id"]
        await wait_for_type(store, project, run_id, "agent.step.updated")
    async with serving(
        create_app(settings_for(nats_url), AgentConfig(step_delay_seconds=0.0, share_work=True))
    ):
        stored = await wait_for_type(store, project, run_id, DONE)
    assert stored[-1].event.type == "agent.run.failed"
    assert stored[-1].event.data == {"error": "policy 'custom-llm' is not available in this agent service"}
