"""All four runwire services on real loopback sockets against one nats-server, with one dev secret.

The "no 500" tests walk every service the same way, so they start them together and address them
by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from runwire.ops.settings import Settings
from runwire.web.auth import issue_token
from runwire_agent.app import create_app as agent_app
from runwire_agent.config import AgentConfig
from runwire_ingest.app import create_app as ingest_app
from runwire_ingest.config import IngestConfig
from runwire_stream_api.app import create_app as stream_api_app
from runwire_workflow.app import create_app as workflow_app
from runwire_workflow.config import WorkflowConfig
from tests.support.http_server import serving

SECRET: Final = "no-500-test-secret-0123456789abcdef"
SERVICES: Final = ("stream-api", "ingest", "agent", "workflow")


@dataclass(frozen=True)
class Services:
    """The base URL of each service by name, and a token every one of them accepts."""

    urls: dict[str, str]

    @property
    def token(self) -> str:
        return issue_token(SECRET, "no-500-tester")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def settings_for(nats_url: str) -> Settings:
    # A short NATS request timeout keeps "store away" answers quick while NATS is down.
    return Settings(nats_url=nats_url, auth_secret=SECRET, heartbeat_seconds=0.5)


@contextlib.asynccontextmanager
async def all_services(nats_url: str) -> AsyncIterator[Services]:
    """The stream API, ingest, agent and workflow serving until the block ends."""
    settings = settings_for(nats_url)
    async with (
        serving(stream_api_app(settings)) as stream_api,
        serving(
            ingest_app(settings, IngestConfig(stage_delay_seconds=0.0, chunk_delay_seconds=0.0))
        ) as ingest,
        serving(agent_app(settings, AgentConfig(step_delay_seconds=0.0))) as agent,
        serving(workflow_app(settings, WorkflowConfig(command_timeout_seconds=2.0))) as workflow,
    ):
        yield Services({"stream-api": stream_api, "ingest": ingest, "agent": agent, "workflow": workflow})
