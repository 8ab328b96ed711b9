"""The workflow HTTP API under `/v1/projects/{project}/workflow` (bearer auth per project)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody
from litestar.params import FromPath, JSONBody

from runwire.auth import Principal, project_guard
from runwire.service_app import CancelRequest, IdempotencyKey, checked_project, created, new_aggregate_id
from runwire_workflow.api import (
    ApproveRequest,
    RejectRequest,
    RunList,
    RunView,
    ValidatedDefinition,
    read_definition,
    run_view,
    validated,
)
from runwire_workflow.service import WorkflowService

DEFINITION_SCHEMA = "WorkflowDefinition"
REPLAY = {200: ResponseSpec(RunView, description="An idempotent retry: the run this key created before")}


@dataclass
class DefinitionBody(Operation):
    """Documents a body that the route reads itself: a workflow definition as JSON or YAML."""

    def __post_init__(self) -> None:
        schema = Reference(ref=f"#/components/schemas/{DEFINITION_SCHEMA}")
        self.request_body = RequestBody(
            required=True,
            description="A workflow definition (DAG of ingest, agent, gate and delay nodes), as JSON or YAML",
            content={
                media: OpenAPIMediaType(schema=schema) for media in ("application/json", "application/yaml")
            },
        )


def _caller(request: Request[Any, Any, Any]) -> str:
    principal: Principal = request.state.principal
    return principal.sub


class WorkflowController(Controller):
    """Validate definitions; create, read, list and cancel runs; approve and reject gates."""

    path = "/v1/projects/{project:str}/workflow"
    guards = (project_guard,)
    tags = ("workflow runs",)

    @post(
        "/definitions/validate",
        summary="Validate a definition",
        status_code=200,
        operation_class=DefinitionBody,
    )
    async def validate(self, project: FromPath[str], request: Request[Any, Any, Any]) -> ValidatedDefinition:
        """The definition if it is a valid DAG, with a run order; else 400 naming the node."""
        checked_project(project)
        return validated(read_definition(await request.body(), request.headers.get("content-type")))

    @post(
        "/runs",
        summary="Start a workflow run",
        status_code=201,
        responses=REPLAY,
        operation_class=DefinitionBody,
    )
    async def create_run(
        self,
        project: FromPath[str],
        request: Request[Any, Any, Any],
        runtime: NamedDependency[WorkflowService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunView]:
        """Validates the definition (400 naming the node), then starts every node with no dependency."""
        project = checked_project(project)
        definition = read_definition(await request.body(), request.headers.get("content-type"))
        run_id = new_aggregate_id("wf", project, idempotency_key)
        loaded, new = await runtime.create(project, run_id, definition)
        return created(run_view(*loaded), new=new, location=f"/v1/projects/{project}/workflow/runs/{run_id}")

    @get("/runs", summary="List the project's runs")
    async def list_runs(self, project: FromPath[str], runtime: NamedDependency[WorkflowService]) -> RunList:
        """Every run of the project with its current state, oldest first."""
        return RunList(runs=await runtime.list_runs(checked_project(project)))

    @get("/runs/{run_id:str}", summary="Get a run's current state")
    async def get_run(
        self, project: FromPath[str], run_id: FromPath[str], runtime: NamedDependency[WorkflowService]
    ) -> RunView:
        """The run as its events describe it now: every node's status, child, input and output."""
        return run_view(*await runtime.get(checked_project(project), run_id))

    @post("/runs/{run_id:str}/cancel", summary="Cancel a run", status_code=200)
    async def cancel_run(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        runtime: NamedDependency[WorkflowService],
        request: Request[Any, Any, Any],
        data: JSONBody[CancelRequest | None] = None,
    ) -> RunView:
        """Records `workflow.run.cancelled` and cancels running children. 409 once finished."""
        reason = data.reason if data is not None else CancelRequest().reason
        return run_view(*await runtime.cancel(checked_project(project), run_id, reason, _caller(request)))

    @post("/runs/{run_id:str}/gates/{node:str}/approve", summary="Approve a paused gate", status_code=200)
    async def approve_gate(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        node: FromPath[str],
        runtime: NamedDependency[WorkflowService],
        request: Request[Any, Any, Any],
        data: JSONBody[ApproveRequest | None] = None,
    ) -> RunView:
        """Records `workflow.gate.approved`; the nodes after the gate start. 409 unless it is paused."""
        comment = data.comment if data is not None else ""
        loaded = await runtime.decide_gate(
            checked_project(project), run_id, node, True, _caller(request), comment
        )
        return run_view(*loaded)

    @post("/runs/{run_id:str}/gates/{node:str}/reject", summary="Reject a paused gate", status_code=200)
    async def reject_gate(
        self,
        project: FromPath[str],
        run_id: FromPath[str],
        node: FromPath[str],
        runtime: NamedDependency[WorkflowService],
        request: Request[Any, Any, Any],
        data: JSONBody[RejectRequest | None] = None,
    ) -> RunView:
        """Records `workflow.gate.rejected`; the run fails. 409 unless the gate is paused."""
        reason = data.reason if data is not None else RejectRequest().reason
        loaded = await runtime.decide_gate(
            checked_project(project), run_id, node, False, _caller(request), reason
        )
        return run_view(*loaded)
