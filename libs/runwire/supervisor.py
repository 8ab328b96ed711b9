"""`make run`: start the embedded NATS (unless RUNWIRE_NATS_URL is set) and every runwire service.

It prints each URL, the NATS URL and a dev token, and on Ctrl-C or SIGTERM stops the services and
the server it started, by their PIDs, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import FrameType

from runwire.auth import dev_secret, issue_token
from runwire.connection import connect_nats
from runwire.embedded_nats import EmbeddedNats, EmbeddedNatsError
from runwire.event_store import EventStore, stream_settings
from runwire.settings import Settings, SettingsError, load_settings

DEFAULT_NATS_PORT = 4222
READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Service:
    """A runwire service: its name, importable module, and port offset from RUNWIRE_HTTP_PORT."""

    name: str
    module: str
    offset: int


SERVICES = (
    Service("stream-api", "runwire_stream_api", 0),
    Service("ingest", "runwire_ingest", 1),
    Service("agent", "runwire_agent", 2),
    Service("workflow", "runwire_workflow", 3),
)


def installed_services() -> list[Service]:
    """The services whose packages are installed in this environment."""
    return [s for s in SERVICES if importlib.util.find_spec(s.module) is not None]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def _ensure_stream(settings: Settings, url: str) -> None:
    nc = await connect_nats([url], "runwire-supervisor")
    try:
        await EventStore(nc).ensure_stream(stream_settings(settings))
    finally:
        await nc.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


class Supervisor:
    """Owns the child processes of `make run` and ends exactly those."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nats: EmbeddedNats | None = None
        self.children: list[tuple[Service, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def start(self) -> dict[str, str]:
        settings = self.settings
        data_dir = settings.data_dir.absolute()
        nats_url = settings.nats_url
        if not nats_url:
            port = DEFAULT_NATS_PORT if _port_free("127.0.0.1", DEFAULT_NATS_PORT) else -1
            self.nats = EmbeddedNats(data_dir / "nats", port=port)
            nats_url = self.nats.start()
        asyncio.run(_ensure_stream(settings, nats_url.split(",")[0]))
        secret = settings.auth_secret or dev_secret(data_dir)
        env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": secret,
            "PYTHONUNBUFFERED": "1",
        }
        urls = {"nats": nats_url}
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for service in installed_services():
            process = subprocess.Popen(
                [sys.executable, "-m", service.module], env=env, stdin=subprocess.DEVNULL
            )
            self.children.append((service, process))
            url = f"http://{settings.http_host}:{settings.service_port(service.offset)}"
            if not _wait_healthy(url, process, deadline):
                raise RuntimeError(f"{service.name} did not become healthy at {url}")
            urls[service.name] = url
        urls["token"] = issue_token(secret, "dev", "*", ttl_seconds=30 * 86_400)
        return urls

    def stop(self) -> None:
        """SIGTERM every child (newest first), wait for them, kill stragglers, stop NATS last."""
        self.stopping = True
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + 5
        for _, process in reversed(self.children):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.children.clear()
        if self.nats is not None:
            self.nats.stop()
            self.nats = None

    def watch(self) -> int:
        """Block until a signal asks to stop or a child dies; returns the exit status."""
        while not self.stopping:
            for service, process in self.children:
                code = process.poll()
                if code is not None:
                    print(f"runwire: {service.name} exited with status {code}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.3)
        return 0


def print_banner(urls: dict[str, str]) -> None:
    print("\nrunwire is running:", flush=True)
    for name, url in urls.items():
        if name not in ("nats", "token"):
            print(f"  {name:<11} {url}")
    stream_api = urls.get("stream-api")
    if stream_api:
        print(f"  {'dashboard':<11} {stream_api}/?access_token={urls['token']}")
        print(f"  {'openapi':<11} {stream_api}/schema")
    print(f"  {'nats':<11} {urls['nats']}")
    print(f"\ndev token (all projects, 30 days):\n  {urls['token']}\n")
    print("Ctrl-C stops everything.", flush=True)


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"runwire: {exc}", file=sys.stderr)
        return 2
    supervisor = Supervisor(settings)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        urls = supervisor.start()
        print_banner(urls)
        status = supervisor.watch()
    except (RuntimeError, EmbeddedNatsError, OSError) as exc:
        print(f"runwire: {exc}", file=sys.stderr)
        status = 1
    finally:
        print("runwire: stopping", file=sys.stderr, flush=True)
        supervisor.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
