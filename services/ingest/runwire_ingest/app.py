"""The ingest service's Litestar application and the runtime its lifespan owns."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from runwire.contract.domain_event import EventCodec
from runwire.contract.ingest import SOURCE, CreateJobCommand
from runwire.es.application import Application
from runwire.es.process import ProcessSettings
from runwire.es.repository import Repository
from runwire.jetstream.chunk_store import ChunkStore
from runwire.jetstream.commands import CancelCommand, CommandHandler, serving_commands
from runwire.ops.settings import Settings
from runwire.web.service_app import ServiceContext, domain_service_app
from runwire_ingest.application import IngestApplication
from runwire_ingest.config import IngestConfig, load_config
from runwire_ingest.domain.events import JobEvent
from runwire_ingest.domain.state import evolve, initial
from runwire_ingest.process import JobProcess
from runwire_ingest.routes import JobsController

PORT_OFFSET = 1
# Room for the JSON or multipart framing around the largest document.
BODY_SLACK_BYTES = 64 * 1024


def create_app(settings: Settings, config: IngestConfig | None = None) -> Litestar:
    """An ingest service for these settings; tunables default to RUNWIRE_INGEST_* variables."""
    tunables = config or load_config()

    @asynccontextmanager
    async def runtime(context: ServiceContext) -> AsyncIterator[IngestApplication]:
        repository = Repository(context.store, EventCodec[JobEvent](JobEvent, SOURCE), initial, evolve)
        jobs = Application(repository, "ingest job")
        chunk_store = await ChunkStore.open(context.nc)
        process = JobProcess(
            jobs, chunk_store, tunables, ProcessSettings.of(context.settings, shared=tunables.share_work)
        )
        application = IngestApplication(jobs=jobs, process=process, chunk_store=chunk_store, config=tunables)
        handlers: dict[str, CommandHandler] = {
            "create": (CreateJobCommand, application.on_create_command),
            "cancel": (CancelCommand, application.on_cancel_command),
        }
        async with serving_commands(context.nc, "ingest", handlers), contextlib.aclosing(process):
            await process.start()
            yield application

    limit = tunables.max_document_bytes + BODY_SLACK_BYTES
    return domain_service_app(
        settings,
        name="ingest",
        title="runwire ingest API",
        description="Event-sourced document ingest jobs: every change is an `ingest.job.*` CloudEvent.",
        route_handlers=[JobsController],
        runtime=runtime,
        request_max_body_size=limit,
        body_limit_detail=(
            f"the request body is larger than {limit} bytes; documents may be at most "
            f"{tunables.max_document_bytes} bytes (RUNWIRE_INGEST_MAX_DOCUMENT_BYTES)"
        ),
    )
