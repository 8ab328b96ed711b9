"""An agent service on a real socket, and chunks seeded into the real chunk index."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client as NATS

from runwire.contract.chunks import Chunk
from runwire.jetstream.chunk_store import ChunkStore
from runwire_agent.app import create_app
from runwire_agent.config import AgentConfig
from tests.integration.domain_services import auth, settings_for
from tests.support.http_server import serving

FAST = AgentConfig(step_delay_seconds=0.0, share_work=False, approval_poll_seconds=0.2)
SLOW = AgentConfig(step_delay_seconds=0.3, share_work=False, approval_poll_seconds=0.2)

PASSAGES = [
    "Foxes are small omnivorous mammals with a bushy tail.",
    "The red fox is the largest of the true foxes.",
    "Owls hunt at night and eat small rodents.",
]


@pytest.fixture
async def agent_url(nats_url: str) -> AsyncIterator[str]:
    async with serving(create_app(settings_for(nats_url), FAST)) as url:
        yield url


@pytest.fixture
async def slow_agent_url(nats_url: str) -> AsyncIterator[str]:
    async with serving(create_app(settings_for(nats_url), SLOW)) as url:
        yield url


@pytest.fixture
async def client(agent_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{agent_url}/v1/projects/{project}/agent", headers=auth(project)
    ) as c:
        yield c


@pytest.fixture
async def slow_client(slow_agent_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    base = f"{slow_agent_url}/v1/projects/{project}/agent"
    async with httpx.AsyncClient(base_url=base, headers=auth(project)) as c:
        yield c


@pytest.fixture
async def indexed_job(nc: NATS, project: str) -> str:
    """A job id whose chunks (PASSAGES) are in the chunk index, as ingest would leave them."""
    chunks = await ChunkStore.open(nc)
    offset = 0
    for index, text in enumerate(PASSAGES):
        await chunks.put(
            project, "job-animals", Chunk(index=index, start=offset, end=offset + len(text), text=text)
        )
        offset += len(text)
    return "job-animals"
