"""Fixtures for the stream API: the app on a real socket, tokens, and a publisher."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runwire.contract.envelope import new_event
from runwire.ops.settings import Settings
from runwire.ops.telemetry import Telemetry
from runwire.web.auth import issue_token
from runwire_stream_api.app import create_app
from runwire_stream_api.runtime import Runtime
from tests.support.eventually import eventually
from tests.support.http_server import serving
from tests.support.ports import free_port

SECRET = "stream-api-test-secret-0123456789"


@dataclass
class StreamAPI:
    """A running stream API instance and what tests need to talk to it."""

    base: str
    runtime: Runtime
    http: httpx.AsyncClient

    def token(self, projects: Any = "*", sub: str = "tester") -> str:
        return issue_token(SECRET, sub, projects)

    async def publish(self, project: str, events: list[dict[str, Any]]) -> list[str]:
        """POST events; returns their cursors."""
        response = await self.http.post(
            f"/v1/projects/{project}/events", json=events, headers={"Authorization": f"Bearer {self.token()}"}
        )
        assert response.status_code == 202, response.text
        return [e["cursor"] for e in response.json()["events"]]


def event(project: str, type_: str = "test.happened", aggregate: str = "a1", **data: Any) -> dict[str, Any]:
    """A valid CloudEvent as JSON (what a producer in any language sends)."""
    built = new_event(type=type_, project=project, source="/test", subject=aggregate, data=data or None)
    import msgspec

    as_json: dict[str, Any] = msgspec.to_builtins(built)
    return as_json


def settings_for(nats_url: str, **overrides: Any) -> Settings:
    return Settings(nats_url=nats_url, auth_secret=SECRET, heartbeat_seconds=0.5, **overrides)


StartAPI = Callable[..., Awaitable[StreamAPI]]


@pytest.fixture
async def start_api(nats_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start stream API instances with setting overrides; all stop at the end of the test."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:

        async def start(
            url: str | None = None,
            telemetry: Telemetry | None = None,
            *,
            direct_writes: bool = True,
            **overrides: Any,
        ) -> StreamAPI:
            app = create_app(settings_for(url or nats_url, **overrides), telemetry)
            base = await stack.enter_async_context(serving(app, direct_writes=direct_writes))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
            return StreamAPI(base=base, runtime=app.state.runtime, http=http)

        yield start


@pytest.fixture
async def api(start_api: Callable[..., Awaitable[StreamAPI]]) -> StreamAPI:
    return await start_api()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class APIProcess:
    """A stream API running as its own process (`python -m runwire_stream_api`), with its log file."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
async def stream_api_process(nats_url: str, tmp_path: Path) -> AsyncIterator[APIProcess]:
    """A stream API process on a free port, ready; killed by PID at the end if still running."""
    port = free_port()
    env = {
        **os.environ,
        "RUNWIRE_NATS_URL": nats_url,
        "RUNWIRE_AUTH_SECRET": SECRET,
        "RUNWIRE_HTTP_PORT": str(port),
        "RUNWIRE_HEARTBEAT_SECONDS": "0.5",
    }
    log_path = tmp_path / "stream-api.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "runwire_stream_api"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    api = APIProcess(process, base, log_path)

    async def ready(http: httpx.AsyncClient) -> bool:
        assert process.poll() is None, f"the stream API exited:\n{api.log_text()}"
        try:
            return (await http.get(base + "/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        async with httpx.AsyncClient(timeout=1) as http:
            await eventually(lambda: ready(http), timeout=30, failure=api.log_text)
        yield api
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
