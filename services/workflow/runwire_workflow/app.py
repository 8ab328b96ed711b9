"""The workflow service's Litestar application and the runtime its lifespan owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from runwire.contract.domain_event import EventCodec
from runwire.es.aggregate import Repository
from runwire.ops.settings import Settings
from runwire.web.service_app import ServiceContext, domain_service_app
from runwire_workflow.config import WorkflowConfig, load_config
from runwire_workflow.dispatch import Dispatcher
from runwire_workflow.domain.events import SOURCE, WorkflowEvent
from runwire_workflow.domain.state import evolve, initial
from runwire_workflow.manager import WorkflowManager
from runwire_workflow.routes import WorkflowController
from runwire_workflow.service import WorkflowService

PORT_OFFSET = 3


def create_app(settings: Settings, config: WorkflowConfig | None = None) -> Litestar:
    """A workflow service; tunables default to RUNWIRE_WORKFLOW_* variables."""
    tunables = config or load_config()

    @asynccontextmanager
    async def runtime(context: ServiceContext) -> AsyncIterator[WorkflowService]:
        repo = Repository(context.store, EventCodec[WorkflowEvent](WorkflowEvent, SOURCE), initial, evolve)
        manager = WorkflowManager(
            repo=repo,
            nc=context.nc,
            config=tunables,
            dispatcher=Dispatcher(context.nc, tunables.command_timeout_seconds),
        )
        await manager.start()
        try:
            yield WorkflowService(repo=repo, manager=manager)
        finally:
            await manager.stop()

    return domain_service_app(
        settings,
        name="workflow",
        title="runwire workflow API",
        description="Event-sourced DAG workflow runs with approval gates (`workflow.*`).",
        route_handlers=[WorkflowController],
        runtime=runtime,
        request_max_body_size=1024 * 1024,
    )
