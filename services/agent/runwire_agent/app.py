"""The agent service's Litestar application and the runtime its lifespan owns."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from litestar import Litestar

from runwire.contract.agent import SOURCE, CreateRunCommand
from runwire.contract.domain_event import EventCodec
from runwire.es.application import Application
from runwire.es.process import ProcessSettings
from runwire.es.repository import Repository
from runwire.jetstream.chunk_store import ChunkStore
from runwire.jetstream.commands import CancelCommand, CommandHandler, serving_commands
from runwire.ops.settings import Settings
from runwire.web.service_app import ServiceContext, domain_service_app
from runwire_agent.application import AgentApplication
from runwire_agent.config import AgentConfig, load_config
from runwire_agent.deterministic_policy import DeterministicPolicy
from runwire_agent.domain.events import AgentEvent
from runwire_agent.domain.state import evolve, initial
from runwire_agent.policy import Policy
from runwire_agent.process import RunProcess
from runwire_agent.routes import RunsController
from runwire_agent.tools.calculator_tool import CalculatorTool
from runwire_agent.tools.publish_tool import PublishReportTool
from runwire_agent.tools.search_tool import SearchTool
from runwire_agent.tools.toolbox import Tool

PORT_OFFSET = 2


def create_app(
    settings: Settings, config: AgentConfig | None = None, policies: Mapping[str, Policy] | None = None
) -> Litestar:
    """An agent service; `policies` adds or replaces decision-makers (e.g. an LLM client) by name."""
    tunables = config or load_config()

    @asynccontextmanager
    async def runtime(context: ServiceContext) -> AsyncIterator[AgentApplication]:
        repository = Repository(context.store, EventCodec[AgentEvent](AgentEvent, SOURCE), initial, evolve)
        runs = Application(repository, "agent run")
        tool_list: list[Tool] = [
            SearchTool(await ChunkStore.open(context.nc)),
            CalculatorTool(),
            PublishReportTool(context.nc),
        ]
        default = DeterministicPolicy()
        process = RunProcess(
            runs,
            policies={default.name: default, **(policies or {})},
            tools={tool.name: tool for tool in tool_list},
            config=tunables,
            settings=ProcessSettings.of(context.settings, shared=tunables.share_work),
        )
        application = AgentApplication(runs=runs, process=process, config=tunables)
        handlers: dict[str, CommandHandler] = {
            "create": (CreateRunCommand, application.on_create_command),
            "cancel": (CancelCommand, application.on_cancel_command),
        }
        async with serving_commands(context.nc, "agent", handlers), contextlib.aclosing(process):
            await process.start()
            yield application

    return domain_service_app(
        settings,
        name="agent",
        title="runwire agent API",
        description="Event-sourced, tool-using agent runs with human approval of risky steps (`agent.*`).",
        route_handlers=[RunsController],
        runtime=runtime,
        request_max_body_size=256 * 1024,
    )
