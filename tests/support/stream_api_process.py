"""A stream API as its own process on a fixed free port, so that a test can stop, kill and restart
it at the same URL while its clients reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.eventually import eventually
from tests.support.ports import free_port


class StreamAPIProcess:
    """`python -m runwire_stream_api` with `RUNWIRE_*` settings from `env`, logging to `log_path`;
    `workers`: RUNWIRE_STREAM_WORKERS (None: inherited, by default the CPUs this process may use)."""

    def __init__(
        self, nats_url: str, secret: str, log_path: Path, *, workers: int | None = None, **env: str
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": secret,
            "RUNWIRE_HTTP_PORT": str(self.port),
            **({} if workers is None else {"RUNWIRE_STREAM_WORKERS": str(workers)}),
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

    def worker_pids(self) -> list[int]:
        """The PIDs of the worker processes (empty for a single process, which has none)."""
        assert self.process is not None
        return children(self.process.pid)

    def close(self) -> None:
        """Kill it if it still runs (by its own PID; its workers then drain and exit, or are killed
        by their PIDs after 15 s), and close the log."""
        if self.process is not None and self.process.poll() is None:
            workers = self.worker_pids()
            self.process.kill()
            self.process.wait()
            deadline = time.monotonic() + 15
            while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.log.close()


def children(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [child for child in map(int, listed) if alive(child)]


def alive(pid: int) -> bool:
    """Whether `pid` runs (exists and is not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def tcp_connections(pid: int, port: int) -> int:
    """Established TCP connections that `pid` holds on its local `port` (which worker serves whom)."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except FileNotFoundError:
        return 0
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01" and fields[9] in inodes:
                    count += 1
    return count
