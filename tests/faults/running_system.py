"""`make run` as a test subject: `python -m runwire_dev` in a subprocess with its own free HTTP ports,
NATS port and data directory, its child PIDs read from `<data dir>/processes.json`, stopped by PID."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runwire.jetstream.nats_port import free_port, port_file
from runwire.web.auth import issue_token, read_dev_secret
from runwire_dev.readiness import not_ready_reason
from runwire_dev.supervisor import PROCESSES_FILE
from tests.support.eventually import eventually
from tests.support.ports import free_port_block

SERVICES: Final = ("stream-api", "ingest", "agent", "workflow")
ROOT: Final = Path(__file__).resolve().parents[2]


@dataclass
class RunningSystem:
    """A running `python -m runwire_dev` and what tests need to reach and hurt its children."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    http_port: int
    log_path: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http_port + SERVICES.index(service)}"

    def pids(self) -> dict[str, int]:
        """Each child's current PID (`nats-server` and the services), as the supervisor records them."""
        try:
            record = json.loads((self.data_dir / PROCESSES_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        children: dict[str, int] = record["children"]
        return children

    def nats_port(self) -> int:
        return int(port_file(self.data_dir).read_text())

    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port()}"

    def token(self, projects: str | list[str] = "*") -> str:
        secret = read_dev_secret(self.data_dir)
        assert secret is not None, "make run did not create its dev secret"
        return issue_token(secret, "fault-tests", projects)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def supervisor_lines(self) -> list[str]:
        """The supervisor's own log lines (the children's are interleaved in the same output)."""
        return [line for line in self.log().splitlines() if line.startswith("runwire: ")]

    async def ready(self, service: str) -> bool:
        """Whether the service answers /readyz 200 now (asked as the supervisor asks: a plain
        HTTP client, cheap enough to poll while the machine is busy restarting the service)."""
        return await asyncio.to_thread(not_ready_reason, self.url(service)) is None

    async def all_ready(self) -> bool:
        return all([await self.ready(service) for service in SERVICES])

    def stop(self) -> None:
        """SIGTERM the supervisor (it stops its children); SIGKILL by PID whatever is left after 30 s."""
        children = self.pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_system(
    tmp_path: Path, *args: str, http_ports: int = len(SERVICES), **env: str
) -> Iterator[RunningSystem]:
    """Start what `make run` runs (`args` e.g. `--cluster`), with free NATS ports remembered in
    advance (never 4222 or the cluster's defaults)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for nats_dir in [data_dir, *(data_dir / "cluster" / f"n{i}" for i in (1, 2, 3))]:
        for directory in (nats_dir, nats_dir / "route"):
            directory.mkdir(parents=True, exist_ok=True)
            port_file(directory).write_text(f"{free_port('127.0.0.1')}\n")
    http_port = free_port_block(http_ports)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    environment |= {"RUNWIRE_DATA_DIR": str(data_dir), "RUNWIRE_HTTP_PORT": str(http_port), **env}
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runwire_dev", *args],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    system = RunningSystem(process, data_dir, http_port, log_path)
    try:
        yield system
    finally:
        system.stop()


async def wait_for_banner(system: RunningSystem, timeout: float = 60.0) -> None:
    """Wait until the supervisor printed its banner (every service ready), or fail with its log."""

    def banner() -> bool:
        assert system.process.poll() is None, f"make run ended:\n{system.log()}"
        return "Ctrl-C stops everything." in system.log()

    await eventually(banner, timeout, failure=lambda: f"no banner:\n{system.log()}")
