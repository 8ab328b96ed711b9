"""The agent HTTP API under `/v1/projects/{project}/agent/runs` (bearer auth per project)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from runwire.contract.agent import CreateRunRequest
from runwire.web.auth import Principal, project_guard
from runwire.web.service_app import CancelRequest, IdempotencyKey, checked_project, created, new_aggregate_id
from runwire_agent.api import (
    ApproveRequest,
    MessageRequest,
    RejectRequest,
    RunList,
    RunView,
    run_view,
)
from runwire_agent.application import AgentApplication

REPLAY = {200: ResponseSpec(RunView, description="An idempotent retry: the run this key created before")}


def _caller(request: Request[Any, Any, Any]) -> str:
    principal: Principal = request.state.principal
    return principal.sub


class RunsController(Controller):
    """Create, read, list, message, approve, reject and cancel agent runs."""

    path = "/v1/projects/{project:str}/agent/runs"
    guards = (project_guard,)
    tags = ("agent runs",)

    @post("", summary="Start an agent run", status_code=201, responses=REPLAY)
    async def create_run(
        self,
        project: FromPath[str],
        data: JSONBody[CreateRunRequest],
        runtime: NamedDependency[AgentApplication],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunView]:
        """The run starts at once; its steps, messages and approvals arrive as `agent.*` events."""
        project = checked_project(project)
        run_id = new_aggregate_id("run", project, idempotency_key)
        loaded, new = await runtime.create(project, run_id, data)
        return created(run_view(*loaded), new=new, location=f"/v1/projects/{project}/agent/runs/{run_id}")

    @get("", summary="List the project's runs")
    async def list_runs(self, project: FromPath[str], runtime: NamedDependency[AgentApplication]) -> RunList:
        """Every run of the project with its current state, oldest first."""
        return RunList(runs=await runtime.list_runs(checked_project(project)))

    @get("/{run_id:str}", summary="Get a run's current state")
    async def get_run(
        self, project: FromPath[str], run_id: FromPath[str], runtime: NamedDependency[AgentApplication]
    ) -> RunView:
        """The run as its events describe it now: messages, steps, pending approval, answer."""
        return run_view(*await runtime.get(checked_project(project), run_id))

    @post("/{run_id:str}/messages", summary="Append a user message", status_code=200)
    async def append_message(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        data: JSONBody[MessageRequest],
        runtime: NamedDependency[AgentApplication],
    ) -> RunView:
        """Records `agent.message.appended`; the policy answers it before finishing. 409 once finished."""
        return run_view(*await runtime.append_message(checked_project(project), run_id, data.content))

    @post("/{run_id:str}/approve", summary="Approve the pending risky step", status_code=200)
    async def approve(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        runtime: NamedDependency[AgentApplication],
        request: Request[Any, Any, Any],
        data: JSONBody[ApproveRequest | None] = None,
    ) -> RunView:
        """Records `agent.approval.granted`; the step runs next. 409 unless an approval is pending."""
        comment = data.comment if data is not None else ""
        return run_view(*await runtime.approve(checked_project(project), run_id, _caller(request), comment))

    @post("/{run_id:str}/reject", summary="Reject the pending risky step", status_code=200)
    async def reject(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        runtime: NamedDependency[AgentApplication],
        request: Request[Any, Any, Any],
        data: JSONBody[RejectRequest | None] = None,
    ) -> RunView:
        """Records `agent.approval.rejected`; the run goes on without the step. 409 unless one is pending."""
        reason = data.reason if data is not None else RejectRequest().reason
        return run_view(*await runtime.reject(checked_project(project), run_id, _caller(request), reason))

    @post("/{run_id:str}/cancel", summary="Cancel an unfinished run", status_code=200)
    async def cancel(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        runtime: NamedDependency[AgentApplication],
        request: Request[Any, Any, Any],
        data: JSONBody[CancelRequest | None] = None,
    ) -> RunView:
        """Records `agent.run.cancelled`; the run stops before its next step. 409 once finished."""
        reason = data.reason if data is not None else CancelRequest().reason
        return run_view(*await runtime.cancel(checked_project(project), run_id, reason, _caller(request)))
