"""The workflow service's Litestar application and the runtime its lifespan owns."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from runwire.contract.domain_event import EventCodec
from runwire.es.application import Application
from runwire.es.process import ProcessSettings
from runwire.es.repository import Repository
from runwire.ops.settings import Settings
from runwire.web.service_app import ServiceContext, domain_service_app
from runwire_workflow.application import WorkflowApplication
from runwire_workflow.config import WorkflowConfig, load_config
from runwire_workflow.dispatch import Dispatcher
from runwire_workflow.domain.events import SOURCE, WorkflowEvent
from runwire_workflow.domain.state import evolve, initial
from runwire_workflow.process import WorkflowProcess
from runwire_workflow.routes import WorkflowController

PORT_OFFSET = 3


def create_app(settings: Settings, config: WorkflowConfig | None = None) -> Litestar:
    """A workflow service; tunables default to RUNWIRE_WORKFLOW_* variables."""
    tunables = config or load_config()

    @asynccontextmanager
    async def runtime(context: ServiceContext) -> AsyncIterator[WorkflowApplication]:
        codec = EventCodec[WorkflowEvent](WorkflowEvent, SOURCE)
        runs = Application(Repository(context.store, codec, initial, evolve), "workflow run")
        process = WorkflowProcess(
            runs,
            tunables,
            Dispatcher(context.nc, tunables.command_timeout_seconds),
            ProcessSettings.of(context.settings, shared=tunables.share_work),
        )
        async with contextlib.aclosing(process):
            await process.start()
            yield WorkflowApplication(runs=runs, process=process)

    return domain_service_app(
        settings,
        name="workflow",
        title="runwire workflow API",
        description="Event-sourced DAG workflow runs with approval gates (`workflow.*`).",
        route_handlers=[WorkflowController],
        runtime=runtime,
        request_max_body_size=1024 * 1024,
    )
