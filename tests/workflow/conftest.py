"""The three domain services on real sockets against the session's nats-server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from runwire_agent.app import create_app as agent_app
from runwire_agent.config import AgentConfig
from runwire_ingest.app import create_app as ingest_app
from runwire_ingest.config import IngestConfig
from runwire_workflow.app import create_app as workflow_app
from runwire_workflow.config import WorkflowConfig
from tests.integration.domain_services import auth, settings_for
from tests.support.http_server import serving

INGEST = IngestConfig(stage_delay_seconds=0.0, chunk_delay_seconds=0.0, share_work=False)
SLOW_INGEST = IngestConfig(stage_delay_seconds=0.05, chunk_delay_seconds=0.1, share_work=False)
AGENT = AgentConfig(step_delay_seconds=0.0, share_work=False)
WORKFLOW = WorkflowConfig(share_work=False, command_timeout_seconds=2.0, command_retry_seconds=1.0)


@contextlib.asynccontextmanager
async def children(nats_url: str, ingest: IngestConfig = INGEST) -> AsyncIterator[None]:
    """The ingest and agent services that workflow nodes send their commands to."""
    settings = settings_for(nats_url)
    async with serving(ingest_app(settings, ingest)), serving(agent_app(settings, AGENT)):
        yield


@pytest.fixture
async def workflow_url(nats_url: str) -> AsyncIterator[str]:
    async with children(nats_url), serving(workflow_app(settings_for(nats_url), WORKFLOW)) as url:
        yield url


@pytest.fixture
async def slow_workflow_url(nats_url: str) -> AsyncIterator[str]:
    async with (
        children(nats_url, SLOW_INGEST),
        serving(workflow_app(settings_for(nats_url), WORKFLOW)) as url,
    ):
        yield url


@pytest.fixture
async def client(workflow_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    base = f"{workflow_url}/v1/projects/{project}/workflow"
    async with httpx.AsyncClient(base_url=base, headers=auth(project)) as c:
        yield c


@pytest.fixture
async def slow_client(slow_workflow_url: str, project: str) -> AsyncIterator[httpx.AsyncClient]:
    base = f"{slow_workflow_url}/v1/projects/{project}/workflow"
    async with httpx.AsyncClient(base_url=base, headers=auth(project)) as c:
        yield c
