"""The ingest service's process: each unfinished job runs through PREPROCESSING, CHUNKING, INDEXING.

It always starts from the job's state, so the same code runs a new job and resumes one after a
restart (earlier stages are re-derived and record nothing; indexing continues from its count).
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime

import msgspec

from runwire.contract.ingest import Counts, Stage
from runwire.es.application import Application
from runwire.es.process import ProcessManager, ProcessSettings
from runwire.jetstream.chunk_store import BUCKET, ChunkStore
from runwire_ingest.config import IngestConfig
from runwire_ingest.domain.commands import CompleteJob, FailJob, JobCommand, RecordProgress
from runwire_ingest.domain.decide import decide
from runwire_ingest.domain.events import TERMINAL_TYPES, JobEvent
from runwire_ingest.domain.state import Job
from runwire_ingest.domain.text import normalise, split

log = logging.getLogger(__name__)

PREPROCESSED_PROGRESS = 0.05
CHUNKED_PROGRESS = 0.1


def now() -> datetime:
    return datetime.now(UTC)


class JobProcess(ProcessManager[Job, JobEvent]):
    """One pipeline task per unfinished job; cancellation is noticed between chunks."""

    created_type = "ingest.job.created"
    terminal_types = TERMINAL_TYPES
    aggregate_types = "ingest.job.>"

    def __init__(
        self,
        app: Application[Job, JobEvent],
        chunks: ChunkStore,
        config: IngestConfig,
        settings: ProcessSettings | None = None,
    ) -> None:
        super().__init__(app, "ingest", settings)
        self.chunks = chunks
        self.config = config

    async def carry_on(self, state: Job) -> None:
        """A job that exists and has not ended gets its pipeline task (if it has none yet)."""
        if state.exists and not state.terminal:
            self.tasks.start((state.project, state.id), lambda: self.run(state.project, state.id))

    async def run(self, project: str, job_id: str) -> None:
        """Process a job from wherever its events say it got to, until it is terminal."""
        await self.drive(
            project,
            job_id,
            lambda: self._process(project, job_id),
            lambda error: self._execute(project, job_id, FailJob(error=error, at=now())),
        )

    async def _execute(self, project: str, job_id: str, command: JobCommand) -> Job:
        outcome = await self.handle(project, job_id, lambda job: decide(command, job))
        return outcome.state

    async def _record(self, job: Job, stage: Stage, progress: float, counts: Counts) -> Job:
        command = RecordProgress(stage=stage, progress=round(progress, 4), counts=counts, at=now())
        return await self._execute(job.project, job.id, command)

    def _stopped(self, job: Job) -> bool:
        """Whether this process has seen the job end (a cancel served here lands in the cache)."""
        cached = self.app.cached(job.project, job.id)
        return cached is not None and cached.state.terminal

    async def _process(self, project: str, job_id: str) -> None:
        job = (await self.app.state(project, job_id)).state
        if not job.exists or job.terminal:
            return
        text = normalise(job.text)
        if not text:
            await self._execute(
                project, job_id, FailJob(error="the document is empty after normalisation", at=now())
            )
            return
        counts = Counts(characters=len(text))
        job = await self._record(job, "PREPROCESSING", PREPROCESSED_PROGRESS, counts)
        await asyncio.sleep(self.config.stage_delay_seconds)
        pieces = split(text, job.chunk_size, job.chunk_overlap)
        counts = Counts(characters=len(text), chunks=len(pieces))
        job = await self._record(job, "CHUNKING", CHUNKED_PROGRESS, counts)
        await asyncio.sleep(self.config.stage_delay_seconds)
        start = job.counts.indexed if job.stage == "INDEXING" else 0
        every = max(1, math.ceil(len(pieces) / self.config.progress_updates))
        for chunk in pieces[start:]:
            if self._stopped(job):
                return
            await self.chunks.put(project, job_id, chunk)
            indexed = chunk.index + 1
            if indexed % every == 0 or indexed == len(pieces):
                progress = CHUNKED_PROGRESS + (1 - CHUNKED_PROGRESS) * indexed / len(pieces)
                job = await self._record(
                    job, "INDEXING", progress, msgspec.structs.replace(counts, indexed=indexed)
                )
            await asyncio.sleep(self.config.chunk_delay_seconds)
        if self._stopped(job):
            return
        await self._execute(project, job_id, CompleteJob(counts=job.counts, bucket=BUCKET, at=now()))
