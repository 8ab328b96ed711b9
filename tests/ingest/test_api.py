"""The ingest HTTP API through a real socket: create, read, list, cancel, idempotency and errors."""

from __future__ import annotations

import asyncio

import httpx

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import auth, types_of
from tests.support.eventually import eventually

DOC = {"text": "The quick brown fox jumps over the lazy dog. " * 20, "name": "fox.txt", "chunk_size": 200}


async def completed(client: httpx.AsyncClient, job_id: str) -> dict[str, object]:
    async def probe() -> dict[str, object] | None:
        job: dict[str, object] = (await client.get(f"/ingest/jobs/{job_id}")).json()
        return job if job["status"] == "completed" else None

    return await eventually(probe)


async def test_create_returns_201_with_the_queued_job(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post("/ingest/jobs", json=DOC)
    assert response.status_code == 201
    job = response.json()
    assert (job["project"], job["status"], job["name"], job["chunk_size"], job["chunk_overlap"]) == (
        project,
        "queued",
        "fox.txt",
        200,
        40,
    )
    assert response.headers["location"] == f"/v1/projects/{project}/ingest/jobs/{job['id']}"


async def test_get_returns_the_job_as_its_events_left_it(client: httpx.AsyncClient) -> None:
    job_id = (await client.post("/ingest/jobs", json=DOC)).json()["id"]
    job = await completed(client, job_id)
    assert (job["stage"], job["progress"], job["counts"]) == (
        "INDEXING",
        1.0,
        {"characters": 899, "chunks": 6, "indexed": 6},
    )


async def test_list_returns_the_projects_jobs_oldest_first(client: httpx.AsyncClient) -> None:
    first = (await client.post("/ingest/jobs", json=DOC)).json()["id"]
    second = (await client.post("/ingest/jobs", json={**DOC, "name": "two.txt"})).json()["id"]
    listed = (await client.get("/ingest/jobs")).json()["jobs"]
    assert [j["id"] for j in listed] == [first, second]


async def test_listed_jobs_carry_their_versions(client: httpx.AsyncClient) -> None:
    job_id = (await client.post("/ingest/jobs", json=DOC)).json()["id"]
    job = await completed(client, job_id)
    assert [j["version"] for j in (await client.get("/ingest/jobs")).json()["jobs"]] == [job["version"]]


async def test_concurrent_creates_with_one_key_and_other_documents_store_one_job(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    bodies = [{**DOC, "text": f"document number {i} " * 10} for i in range(4)]
    responses = await asyncio.gather(
        *(client.post("/ingest/jobs", json=body, headers={"Idempotency-Key": "race"}) for body in bodies)
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    job_id = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert (await types_of(store, project, job_id)).count("ingest.job.created") == 1


async def test_concurrent_retries_of_one_create_get_one_job(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    responses = await asyncio.gather(
        *(client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "retry"}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_list_of_an_empty_project_is_empty(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ingest/jobs")).json() == {"jobs": []}


async def test_repeat_with_same_idempotency_key_returns_200_and_the_same_job(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "k-1"})
    again = await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


async def test_idempotent_retry_stores_one_created_event(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    job_id = (await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "k-2"})).json()["id"]
    await completed(client, job_id)
    await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "k-2"})
    assert (await types_of(store, project, job_id)).count("ingest.job.created") == 1


async def test_same_idempotency_key_with_another_document_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "k-3"})
    response = await client.post(
        "/ingest/jobs", json={**DOC, "text": "other"}, headers={"Idempotency-Key": "k-3"}
    )
    assert response.status_code == 409
    assert response.json()["type"] == "urn:runwire:problem:idempotency-key-reused"
    assert response.json()["field"] == "Idempotency-Key"


async def test_idempotency_key_with_spaces_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json=DOC, headers={"Idempotency-Key": "has space"})
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"


async def test_missing_token_is_401(ingest_url: str, project: str) -> None:
    response = await httpx.AsyncClient().post(f"{ingest_url}/v1/projects/{project}/ingest/jobs", json=DOC)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_token_for_another_project_is_403(ingest_url: str, project: str) -> None:
    async with httpx.AsyncClient(headers=auth("someone-else")) as other:
        response = await other.get(f"{ingest_url}/v1/projects/{project}/ingest/jobs")
    assert response.status_code == 403
    assert response.json()["field"] == "project"


async def test_unknown_job_is_404(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get("/ingest/jobs/job-nope")
    assert response.status_code == 404
    assert response.json()["detail"] == f"ingest job job-nope not found in project {project}"


async def test_cancel_of_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/ingest/jobs/job-nope/cancel")).status_code == 404


async def test_cancel_of_a_completed_job_is_409(client: httpx.AsyncClient) -> None:
    job_id = (await client.post("/ingest/jobs", json=DOC)).json()["id"]
    await completed(client, job_id)
    response = await client.post(f"/ingest/jobs/{job_id}/cancel", json={"reason": "too late"})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"cannot cancel ingest job {job_id}: it is already completed "
        "(only queued or processing jobs can change)"
    )


async def test_empty_text_is_400_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={"text": ""})
    assert response.status_code == 400
    assert response.json()["field"] == "text"


async def test_unknown_body_field_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={**DOC, "colour": "red"})
    assert response.status_code == 400


async def test_overlap_not_below_chunk_size_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={**DOC, "chunk_size": 100, "chunk_overlap": 100})
    assert response.status_code == 400
    assert response.json()["field"] == "chunk_overlap"


async def test_chunk_size_out_of_range_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={**DOC, "chunk_size": 10})
    assert response.status_code == 400
    assert response.json()["field"] == "chunk_size"


async def test_document_over_the_limit_is_413_naming_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={"text": "x" * 5000})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "the document is 5000 bytes; the limit is 4096 bytes (RUNWIRE_INGEST_MAX_DOCUMENT_BYTES)"
    )


async def test_body_over_the_request_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/ingest/jobs", json={"text": "x" * 100_000})
    assert response.status_code == 413
    assert response.json()["type"] == "urn:runwire:problem:payload-too-large"


async def test_upload_creates_a_job_from_a_multipart_file(client: httpx.AsyncClient) -> None:
    files = {"file": ("notes.txt", b"uploaded text about foxes " * 10, "text/plain")}
    response = await client.post("/ingest/jobs/upload", files=files, data={"chunk_size": "100"})
    assert response.status_code == 201
    job = await completed(client, response.json()["id"])
    assert (job["name"], job["chunk_size"], job["chunk_overlap"]) == ("notes.txt", 100, 20)


async def test_upload_of_a_non_utf8_file_is_400(client: httpx.AsyncClient) -> None:
    files = {"file": ("bin.dat", b"\xff\xfe\x00bad", "application/octet-stream")}
    response = await client.post("/ingest/jobs/upload", files=files)
    assert response.status_code == 400
    assert response.json()["field"] == "file"


async def test_upload_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    files = {"file": ("big.txt", b"y" * 5000, "text/plain")}
    response = await client.post("/ingest/jobs/upload", files=files)
    assert response.status_code == 413
    assert response.json()["field"] == "file"


async def test_chunks_are_readable_in_document_order(client: httpx.AsyncClient) -> None:
    job_id = (await client.post("/ingest/jobs", json=DOC)).json()["id"]
    await completed(client, job_id)
    chunks = (await client.get(f"/ingest/jobs/{job_id}/chunks")).json()["chunks"]
    assert [c["index"] for c in chunks] == [0, 1, 2, 3, 4, 5]
    assert chunks[0]["text"].startswith("The quick brown fox")


async def test_openapi_documents_every_job_route(ingest_url: str) -> None:
    paths = set((await httpx.AsyncClient().get(f"{ingest_url}/schema/openapi.json")).json()["paths"])
    base = "/v1/projects/{project}/ingest/jobs"
    assert {
        base,
        f"{base}/upload",
        f"{base}/{{job_id}}",
        f"{base}/{{job_id}}/chunks",
        f"{base}/{{job_id}}/cancel",
    } <= paths


async def test_readyz_reports_the_stream(ingest_url: str) -> None:
    response = await httpx.AsyncClient().get(f"{ingest_url}/readyz")
    assert (response.status_code, response.json()["status"], response.json()["stream"]) == (
        200,
        "ready",
        "EVENTS",
    )
