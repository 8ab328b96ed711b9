"""The ingest HTTP API under `/v1/projects/{project}/ingest/jobs` (bearer auth per project)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, MultipartBody

from runwire.contract.ingest import CreateJobRequest
from runwire.web.auth import Principal, project_guard
from runwire.web.problems import ProblemError, invalid_field
from runwire.web.service_app import CancelRequest, IdempotencyKey, checked_project, created, new_aggregate_id
from runwire_ingest.api import ChunkList, JobList, JobView, job_view
from runwire_ingest.application import IngestApplication

REPLAY = {200: ResponseSpec(JobView, description="An idempotent retry: the job this key created before")}


@dataclass
class UploadForm:
    """A multipart upload: the document as `file`, optional name and chunking."""

    file: UploadFile
    name: str | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None


def too_large(size: int, limit: int, field: str) -> ProblemError:
    return ProblemError(
        413,
        f"the document is {size} bytes; the limit is {limit} bytes (RUNWIRE_INGEST_MAX_DOCUMENT_BYTES)",
        kind="payload-too-large",
        title="Payload too large",
        field=field,
    )


class JobsController(Controller):
    """Create, read, list and cancel ingest jobs."""

    path = "/v1/projects/{project:str}/ingest/jobs"
    guards = (project_guard,)
    tags = ("ingest jobs",)

    async def _create(
        self, project: str, request: CreateJobRequest, runtime: IngestApplication, key: str | None, field: str
    ) -> Response[JobView]:
        project = checked_project(project)
        size = len(request.text.encode())
        if size > runtime.config.max_document_bytes:
            raise too_large(size, runtime.config.max_document_bytes, field)
        job_id = new_aggregate_id("job", project, key)
        loaded, new = await runtime.create(project, job_id, request)
        return created(job_view(*loaded), new=new, location=f"/v1/projects/{project}/ingest/jobs/{job_id}")

    @post("", summary="Create a job from a JSON document", status_code=201, responses=REPLAY)
    async def create_job(
        self,
        project: FromPath[str],
        data: JSONBody[CreateJobRequest],
        runtime: NamedDependency[IngestApplication],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobView]:
        """Queue a document for PREPROCESSING, CHUNKING and INDEXING; progress arrives as events."""
        return await self._create(project, data, runtime, idempotency_key, "text")

    @post("/upload", summary="Create a job from a multipart file upload", status_code=201, responses=REPLAY)
    async def upload_job(
        self,
        project: FromPath[str],
        data: MultipartBody[UploadForm],
        runtime: NamedDependency[IngestApplication],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobView]:
        """The same as a JSON create, with the document as the UTF-8 text file `file`."""
        content = await data.file.read()
        if len(content) > runtime.config.max_document_bytes:
            raise too_large(len(content), runtime.config.max_document_bytes, "file")
        try:
            text = content.decode()
        except UnicodeDecodeError as exc:
            raise invalid_field(
                "file", f"must be UTF-8 text ({exc.reason} at byte {exc.start})", source="body"
            ) from exc
        fields: dict[str, object] = {"text": text, "name": data.name or data.file.filename or "document.txt"}
        if data.chunk_size is not None:
            fields["chunk_size"] = data.chunk_size
        if data.chunk_overlap is not None:
            fields["chunk_overlap"] = data.chunk_overlap
        try:
            request = msgspec.convert(fields, CreateJobRequest)
        except msgspec.ValidationError as exc:
            field = str(exc).rsplit("`$.", 1)[-1].rstrip("`") if "`$." in str(exc) else "file"
            raise invalid_field(field, str(exc).split(" - at ")[0], source="body") from exc
        return await self._create(project, request, runtime, idempotency_key, "file")

    @get("", summary="List the project's jobs")
    async def list_jobs(self, project: FromPath[str], runtime: NamedDependency[IngestApplication]) -> JobList:
        """Every job of the project with its current state, oldest first."""
        return JobList(jobs=await runtime.list_jobs(checked_project(project)))

    @get("/{job_id:str}", summary="Get a job's current state")
    async def get_job(
        self, project: FromPath[str], job_id: FromPath[str], runtime: NamedDependency[IngestApplication]
    ) -> JobView:
        """The job as its events describe it now."""
        return job_view(*await runtime.get(checked_project(project), job_id))

    @get("/{job_id:str}/chunks", summary="The chunks a job indexed")
    async def get_chunks(
        self, project: FromPath[str], job_id: FromPath[str], runtime: NamedDependency[IngestApplication]
    ) -> ChunkList:
        """What INDEXING stored in the `runwire-chunks` key-value bucket, in document order."""
        return ChunkList(job=job_id, chunks=await runtime.chunks(checked_project(project), job_id))

    @post("/{job_id:str}/cancel", summary="Cancel a queued or processing job", status_code=200)
    async def cancel_job(
        self,
        project: FromPath[str],
        job_id: FromPath[str],
        runtime: NamedDependency[IngestApplication],
        request: Request[Any, Any, Any],
        data: JSONBody[CancelRequest | None] = None,
    ) -> JobView:
        """Records `ingest.job.cancelled`; processing stops before the next chunk. 409 once finished."""
        principal: Principal = request.state.principal
        reason = data.reason if data is not None else CancelRequest().reason
        return job_view(*await runtime.cancel(checked_project(project), job_id, reason, principal.sub))
