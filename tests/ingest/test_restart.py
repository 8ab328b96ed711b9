"""Restart safety: kill -9 the ingest service mid-job; started again, it finishes the job from the stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runwire.jetstream.event_store import EventStore
from tests.integration.domain_services import ServiceProcess, auth, events_of, wait_for_type
from tests.support.eventually import eventually

SLOW = {"RUNWIRE_INGEST_CHUNK_DELAY_SECONDS": "0.1", "RUNWIRE_INGEST_STAGE_DELAY_SECONDS": "0.01"}


@pytest.fixture
def service(nats_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess("runwire_ingest", 1, nats_url, tmp_path, **SLOW)
    try:
        yield process
    finally:
        process.stop()


async def test_a_job_killed_mid_indexing_completes_after_restart(
    service: ServiceProcess, store: EventStore, project: str
) -> None:
    await service.start()
    async with httpx.AsyncClient(base_url=service.base_url, headers=auth(project)) as client:
        response = await client.post(
            f"/v1/projects/{project}/ingest/jobs",
            json={"text": "z" * 3000, "chunk_size": 100, "chunk_overlap": 0},
        )
    job_id = response.json()["id"]

    async def indexing_started() -> bool | None:
        stored = await events_of(store, project, job_id)
        return True if any((s.event.data or {}).get("stage") == "INDEXING" for s in stored) else None

    await eventually(indexing_started)
    service.kill()
    before = await events_of(store, project, job_id)
    assert before[-1].event.type == "ingest.job.updated"

    await service.start()
    stored = await wait_for_type(
        store, project, job_id, ("ingest.job.completed", "ingest.job.failed"), timeout=30
    )
    types = [s.event.type for s in stored]
    assert types[0] == "ingest.job.created"
    assert types[-1] == "ingest.job.completed"
    assert set(types[1:-1]) == {"ingest.job.updated"}
    progress = [s.event.data["progress"] for s in stored[1:-1]]
    assert progress == sorted(progress)
    assert stored[-1].event.data["counts"] == {"characters": 3000, "chunks": 30, "indexed": 30}
    async with httpx.AsyncClient(base_url=service.base_url, headers=auth(project)) as client:
        chunks = (await client.get(f"/v1/projects/{project}/ingest/jobs/{job_id}/chunks")).json()["chunks"]
    assert [c["index"] for c in chunks] == list(range(30))
