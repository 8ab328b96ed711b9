"""A stream API as its own process on a fixed free port, so that a test can stop, kill and restart
it at the same URL while its clients reconnect."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.eventually import eventually
from tests.support.ports import free_port


class StreamAPIProcess:
    """`python -m runwire_stream_api` with `RUNWIRE_*` settings from `env`, logging to `log_path`."""

    def __init__(self, nats_url: str, secret: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": secret,
            "RUNWIRE_HTTP_PORT": str(self.port),
            **env,
        }
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def start(self) -> None:
        """Start and wait until /readyz answers 200."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runwire_stream_api"], env=self.env, stdout=self.log, stderr=self.log
        )
        process = self.process
        async with httpx.AsyncClient(timeout=1) as http:

            async def ready() -> bool:
                assert process.poll() is None, f"the stream API exited:\n{self.log_text()}"
                try:
                    return (await http.get(self.base + "/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=30, failure=lambda: f"stream API not ready:\n{self.log_text()}")

    async def stop(self) -> None:
        """SIGTERM, as an orchestrator would: streams get `event: close`, then the process exits 0."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(self.process.wait, 15) == 0

    async def kill(self) -> None:
        """SIGKILL: connections break without a goodbye."""
        assert self.process is not None
        self.process.kill()
        await asyncio.to_thread(self.process.wait, 15)

    def close(self) -> None:
        """Kill it if it still runs (by its own PID), and close the log."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
