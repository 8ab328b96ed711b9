"""The ingest service's application: its commands and queries, shared by the HTTP routes and NATS commands."""

from __future__ import annotations

import dataclasses

from runwire.contract.chunks import Chunk
from runwire.contract.ids import fingerprint
from runwire.contract.ingest import CreateJobCommand, CreateJobRequest
from runwire.es.application import Application
from runwire.es.repository import Loaded
from runwire.jetstream.chunk_store import ChunkStore
from runwire.jetstream.commands import CancelCommand
from runwire_ingest.api import JobView, job_view
from runwire_ingest.config import IngestConfig
from runwire_ingest.domain.commands import CancelJob, CreateJob
from runwire_ingest.domain.decide import decide
from runwire_ingest.domain.events import JobEvent
from runwire_ingest.domain.state import Job
from runwire_ingest.process import JobProcess, now


@dataclasses.dataclass
class IngestApplication:
    """Creates, reads, lists and cancels jobs; their process runs each unfinished one."""

    jobs: Application[Job, JobEvent]
    process: JobProcess
    chunk_store: ChunkStore
    config: IngestConfig

    async def create(self, project: str, job_id: str, request: CreateJobRequest) -> tuple[Loaded[Job], bool]:
        """Create the job (or find the one this very request created before); True if new."""
        chunk_size = request.chunk_size or self.config.chunk_size
        chunk_overlap = request.chunk_overlap
        if chunk_overlap is None:  # the default overlap, kept below a fifth of a small chunk size
            chunk_overlap = min(self.config.chunk_overlap, chunk_size // 5)
        command = CreateJob(
            name=request.name,
            text=request.text,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            fingerprint=fingerprint([request.name, request.text, chunk_size, chunk_overlap]),
            at=now(),
        )
        outcome = await self.process.handle(
            project, job_id, lambda job: decide(command, job), id_seed=f"create/{command.fingerprint}"
        )
        return Loaded(outcome.state, outcome.version), bool(outcome.events)

    async def get(self, project: str, job_id: str) -> Loaded[Job]:
        """The job's current state, or NotFound."""
        return await self.jobs.get(project, job_id)

    async def list_jobs(self, project: str) -> list[JobView]:
        """Every job of the project, oldest first (a fold of the project's ingest events)."""
        return [job_view(*loaded) for loaded in await self.jobs.list(project, "ingest.job.>")]

    async def cancel(self, project: str, job_id: str, reason: str, by: str) -> Loaded[Job]:
        """Cancel a queued or processing job; its processor stops before the next chunk."""
        command = CancelJob(reason=reason, by=by, at=now())
        outcome = await self.process.handle(project, job_id, lambda job: decide(command, job), existing=True)
        return Loaded(outcome.state, outcome.version)

    async def chunks(self, project: str, job_id: str) -> list[Chunk]:
        """The chunks indexed so far for a job."""
        await self.get(project, job_id)
        return await self.chunk_store.chunks(project, job_id)

    async def on_create_command(self, command: CreateJobCommand) -> JobView:
        """`runwire.cmd.ingest.create`: the workflow service names the job id itself."""
        request = CreateJobRequest(
            text=command.text,
            name=command.name,
            chunk_size=command.chunk_size,
            chunk_overlap=command.chunk_overlap,
        )
        loaded, _ = await self.create(command.project, command.id, request)
        return job_view(*loaded)

    async def on_cancel_command(self, command: CancelCommand) -> JobView:
        """`runwire.cmd.ingest.cancel`."""
        return job_view(*await self.cancel(command.project, command.id, command.reason, command.by))
