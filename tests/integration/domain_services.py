"""Test support for the domain services: settings, tokens, waiting on events, services as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import httpx

from runwire.jetstream.event_store import EventStore, StoredEvent
from runwire.ops.settings import Settings
from runwire.web.auth import issue_token
from tests.support.eventually import eventually
from tests.support.ports import free_port

SECRET = "domain-services-test-secret-0123456789abcdef"
T = TypeVar("T")


def settings_for(nats_url: str) -> Settings:
    return Settings(nats_url=nats_url, auth_secret=SECRET)


def auth(project: str = "*", sub: str = "tester") -> dict[str, str]:
    """Authorization header of a token for `project` (or all)."""
    projects = "*" if project == "*" else [project]
    return {"Authorization": f"Bearer {issue_token(SECRET, sub, projects)}"}


async def events_of(store: EventStore, project: str, aggregate: str) -> list[StoredEvent]:
    return await store.read_aggregate(project, aggregate)


async def types_of(store: EventStore, project: str, aggregate: str) -> list[str]:
    return [stored.event.type for stored in await store.read_aggregate(project, aggregate)]


async def wait_for_type(
    store: EventStore, project: str, aggregate: str, types: str | tuple[str, ...], timeout: float = 15.0
) -> list[StoredEvent]:
    """The aggregate's events once one of `types` is among them."""
    wanted = (types,) if isinstance(types, str) else types

    async def probe() -> list[StoredEvent] | None:
        stored = await store.read_aggregate(project, aggregate)
        return stored if any(s.event.type in wanted for s in stored) else None

    return await eventually(probe, timeout)


class ServiceProcess:
    """One domain service run as `python -m <module>`, as `make run` runs it; ended only by its PID."""

    def __init__(self, module: str, offset: int, nats_url: str, log_dir: Path, **env: str) -> None:
        self.module = module
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": SECRET,
            "RUNWIRE_HTTP_PORT": str(self.port - offset),
            "RUNWIRE_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log_path = log_dir / f"{module}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process (without waiting for it)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    async def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until it answers /healthz."""
        process = self.spawn()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=1.0) as client:

            async def healthy() -> bool:
                if process.poll() is not None:
                    raise AssertionError(f"{self.module} exited: {self.log_path.read_text()[-2000:]}")
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(
                healthy,
                timeout,
                failure=lambda: f"{self.module} did not become healthy: {self.log_path.read_text()[-2000:]}",
            )

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not end."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
