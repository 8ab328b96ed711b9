"""Processing as its events tell it: stage order, progress, cancellation mid-processing, failure."""

from __future__ import annotations

import httpx

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import events_of, types_of, wait_for_type
from tests.support.eventually import eventually

# Exactly 10 chunks of 100 characters (no whitespace to end early at, no overlap).
TEN_CHUNKS = {"text": "x" * 1000, "chunk_size": 100, "chunk_overlap": 0}


async def test_a_job_emits_created_stage_updates_and_completed_in_order(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    job_id = (await client.post("/ingest/jobs", json=TEN_CHUNKS)).json()["id"]
    stored = await wait_for_type(store, project, job_id, "ingest.job.completed")
    steps = [
        (s.event.type, (s.event.data or {}).get("stage"), (s.event.data or {}).get("progress"))
        for s in stored
    ]
    indexing = [("ingest.job.updated", "INDEXING", round(0.1 + 0.09 * i, 4)) for i in range(1, 11)]
    assert steps == [
        ("ingest.job.created", None, None),
        ("ingest.job.updated", "PREPROCESSING", 0.05),
        ("ingest.job.updated", "CHUNKING", 0.1),
        *indexing,
        ("ingest.job.completed", None, None),
    ]


async def test_updates_carry_the_counts(client: httpx.AsyncClient, store: EventStore, project: str) -> None:
    job_id = (await client.post("/ingest/jobs", json=TEN_CHUNKS)).json()["id"]
    stored = await wait_for_type(store, project, job_id, "ingest.job.completed")
    assert stored[-1].event.data == {
        "counts": {"characters": 1000, "chunks": 10, "indexed": 10},
        "bucket": "runwire-chunks",
    }


async def test_events_are_cloudevents_of_the_job(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    job_id = (await client.post("/ingest/jobs", json=TEN_CHUNKS)).json()["id"]
    stored = await wait_for_type(store, project, job_id, "ingest.job.completed")
    assert {(s.event.source, s.event.project, s.event.subject) for s in stored} == {
        ("/runwire/ingest", project, job_id)
    }


async def test_cancel_mid_processing_stops_before_the_next_chunk(
    slow_client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    job_id = (await slow_client.post("/ingest/jobs", json=TEN_CHUNKS)).json()["id"]

    async def indexing() -> bool:
        """Whether the job is processing at INDEXING with a chunk indexed (in the pause before the next)."""
        job = (await slow_client.get(f"/ingest/jobs/{job_id}")).json()
        return bool((job["status"], job["stage"]) == ("processing", "INDEXING") and job["counts"]["indexed"])

    await eventually(indexing)
    response = await slow_client.post(f"/ingest/jobs/{job_id}/cancel", json={"reason": "changed my mind"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["stage"]) == ("cancelled", "INDEXING")
    # A twin started now, paced alike, completing: the cancelled job, further along, had time to finish.
    twin = (await slow_client.post("/ingest/jobs", json=TEN_CHUNKS)).json()["id"]
    await wait_for_type(store, project, twin, "ingest.job.completed")
    stored = await events_of(store, project, job_id)
    assert "ingest.job.completed" not in [s.event.type for s in stored]
    assert stored[-1].event.type == "ingest.job.cancelled"
    assert stored[-1].event.data == {"reason": "changed my mind", "by": "tester", "stage": "INDEXING"}
    last_update = stored[-2].event.data or {}
    assert last_update["stage"] == "INDEXING"
    chunks = (await slow_client.get(f"/ingest/jobs/{job_id}/chunks")).json()["chunks"]
    assert 0 < len(chunks) == last_update["counts"]["indexed"] < 10


async def test_a_document_empty_after_normalisation_fails_with_the_reason(
    client: httpx.AsyncClient, store: EventStore, project: str
) -> None:
    job_id = (await client.post("/ingest/jobs", json={"text": "\x00\x01 \t\n"})).json()["id"]
    stored = await wait_for_type(store, project, job_id, "ingest.job.failed")
    assert [s.event.type for s in stored] == ["ingest.job.created", "ingest.job.failed"]
    assert stored[-1].event.data == {"error": "the document is empty after normalisation", "stage": None}
    job = (await client.get(f"/ingest/jobs/{job_id}")).json()
    assert (job["status"], job["error"]) == ("failed", "the document is empty after normalisation")


async def test_each_job_is_processed_once(client: httpx.AsyncClient, store: EventStore, project: str) -> None:
    job_id = (await client.post("/ingest/jobs", json=TEN_CHUNKS, headers={"Idempotency-Key": "once"})).json()[
        "id"
    ]
    await client.post("/ingest/jobs", json=TEN_CHUNKS, headers={"Idempotency-Key": "once"})
    await wait_for_type(store, project, job_id, "ingest.job.completed")
    # Completed is terminal: nothing is appended after it, so the count is final.
    assert (await types_of(store, project, job_id)).count("ingest.job.updated") == 12
