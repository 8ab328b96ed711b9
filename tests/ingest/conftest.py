"""An ingest service on a real socket against the session's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from runwire_ingest.app import create_app
from runwire_ingest.config import IngestConfig
from tests.integration.domain_services import auth, settings_for
from tests.support.http_server import serving

FAST = IngestConfig(
    stage_delay_seconds=0.0, chunk_delay_seconds=0.0, share_work=False, max_document_bytes=4096
)
# A chunk every 0.2 s: a cancel sent on seeing a chunk recorded lands in the pause before the next.
SLOW = IngestConfig(stage_delay_seconds=0.02, chunk_delay_seconds=0.2, share_work=False)


@pytest.fixture
async def ingest_url(nats_url: str) -> AsyncIterator[str]:
    async with serving(create_app(settings_for(nats_url), FAST)) as url:
        yield url


@pytest.fixture
async def slow_ingest_url(nats_url: str) -> AsyncIterator[str]:
    async with serving(create_app(settings_for(nats_url), SLOW)) as url:
        yield url


@pytest.fixture
async def client(ingest_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{ingest_url}/v1/projects/{project}", headers=auth(project)) as c:
        yield c


@pytest.fixture
async def slow_client(slow_ingest_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{slow_ingest_url}/v1/projects/{project}", headers=auth(project)
    ) as c:
        yield c
