"""`make run`: start the embedded NATS (unless RUNWIRE_NATS_URL is set) and every runwire service,
and keep them running.

A child that exits for any reason but the supervisor's own stop (a crash, kill -9, even status 0)
is started again after a backoff (1 s doubling to 30 s, reset after a minute of running), with one
log line per restart; the others keep running. The embedded nats-server always comes back on the
same port, remembered in the data directory. The URLs and a dev token are printed once every
service answers `/readyz`. On Ctrl-C or SIGTERM it stops the services and the server it started,
by their PIDs, leaving no process behind.

`--cluster` (`make cluster`) runs the same system on a local 3-node JetStream cluster (EVENTS at
R3) with two instances of every service (the second ones on the ports after the first ones'), for
trying fail-over by hand.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Final, Protocol

import msgspec
import nats.errors

from runwire.jetstream.connection import connect_nats
from runwire.jetstream.embedded_nats import EmbeddedNats, EmbeddedNatsError
from runwire.jetstream.event_store import EventStore, StoreError, stream_settings
from runwire.jetstream.nats_port import nats_port, port_file
from runwire.ops.open_files import raise_open_file_limit
from runwire.ops.settings import Settings, SettingsError, load_settings
from runwire.web.auth import dev_secret, issue_token
from runwire_dev.backoff import Backoff
from runwire_dev.local_cluster import ClusterNodeProcess, cluster_nodes
from runwire_dev.popen_child import PopenChild
from runwire_dev.readiness import not_ready_reason

READY_TIMEOUT_SECONDS: Final = 60.0
TICK_SECONDS: Final = 0.1
PROCESSES_FILE: Final = "processes.json"
STREAM_READY_SECONDS: Final = 30.0
# `make cluster`: a second instance of every service, on the ports after the first instances'.
CLUSTER_INSTANCES: Final = 2


@dataclass(frozen=True)
class Service:
    """A runwire service: its name, importable module, and port offset from RUNWIRE_HTTP_PORT
    (`module_offset`: the offset the module itself adds to RUNWIRE_HTTP_PORT)."""

    name: str
    module: str
    offset: int
    module_offset: int = -1

    def port_env(self, http_port: int) -> str:
        """The RUNWIRE_HTTP_PORT that makes this instance serve on `http_port` + `offset`."""
        shift = self.offset - (self.offset if self.module_offset < 0 else self.module_offset)
        return str(http_port + shift)

    def instance(self, number: int, count: int) -> Service:
        """Instance `number` (2, 3, ...) of this service, `count` services further up the ports."""
        return Service(f"{self.name}-{number}", self.module, self.offset + (number - 1) * count, self.offset)


SERVICES = (
    Service("stream-api", "runwire_stream_api", 0),
    Service("ingest", "runwire_ingest", 1),
    Service("agent", "runwire_agent", 2),
    Service("workflow", "runwire_workflow", 3),
)


def installed_services() -> list[Service]:
    """The services whose packages are installed in this environment."""
    return [s for s in SERVICES if importlib.util.find_spec(s.module) is not None]


def say(message: str) -> None:
    """One line of the supervisor's own log, on stderr (the children's logs go there too)."""
    print(f"runwire: {message}", file=sys.stderr, flush=True)


def describe_exit(status: int) -> str:
    """`exited with status 3` or `was killed by SIGKILL`, from a Popen return code."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        return f"was killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"was killed by signal {-status}"


class Process(Protocol):
    """A child the supervisor starts, watches and stops."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def exit_status(self) -> int | None:
        """None while running; the Popen return code once it has exited."""
        ...

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM) without waiting."""
        ...

    def wait(self, timeout: float) -> None:
        """Wait for it to end, killing it after `timeout` seconds."""
        ...


class ServiceProcess(PopenChild):
    """A service run as `python -m <module>` in the supervisor's process group (Ctrl-C reaches it)."""

    def __init__(self, service: Service, env: dict[str, str]) -> None:
        self.name = service.name
        self.module = service.module
        self.env = env
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdin=subprocess.DEVNULL
        )


class NatsProcess:
    """The embedded nats-server, (re)started on its one remembered port."""

    name = "nats-server"

    def __init__(self, server: EmbeddedNats) -> None:
        self.server = server

    @property
    def pid(self) -> int | None:
        return self.server.pid

    def start(self) -> None:
        self.server.stop()  # reaps a server that died, so that it can start again
        self.server.start()

    def exit_status(self) -> int | None:
        process = self.server.process
        return None if process is None else process.poll()

    def terminate(self) -> None:
        process = self.server.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        self.server.stop(timeout)


@dataclass
class Child:
    """A supervised process with its restart bookkeeping."""

    process: Process
    url: str | None = None
    """The service's base URL (None for nats-server, which has no /readyz)."""
    backoff: Backoff = field(default_factory=Backoff)
    started_at: float = 0.0
    restart_at: float | None = None
    """When a pending restart is due (monotonic), None while running."""


async def _ensure_stream(settings: Settings, servers: list[str]) -> None:
    """Create EVENTS if missing; on a cluster just started, retried until JetStream has a leader."""
    nc = await connect_nats(servers, "runwire-supervisor")
    deadline = time.monotonic() + STREAM_READY_SECONDS
    try:
        while True:
            try:
                await EventStore(nc).ensure_stream(stream_settings(settings))
                return
            except (StoreError, TimeoutError, nats.errors.Error) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the EVENTS stream could not be created: {exc}") from exc
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


class Supervisor:
    """Owns the child processes of `make run`: restarts the ones that die, ends exactly those."""

    def __init__(self, settings: Settings, *, cluster: bool = False) -> None:
        self.settings = settings
        self.cluster = cluster
        self.data_dir = settings.data_dir.absolute()
        self.nats: list[Child] = []
        self.services: list[Child] = []
        self.stopping = False
        self.nats_url = ""
        self.secret = ""

    @property
    def children(self) -> list[Child]:
        """NATS first (services need it), then the services."""
        return self.nats + self.services

    def start(self) -> None:
        """Start NATS (waiting until it accepts clients), ensure the stream, then start the services."""
        settings = self.settings
        nats_url = settings.nats_url
        extra_env: dict[str, str] = {}
        if self.cluster:
            if "RUNWIRE_STREAM_REPLICAS" not in os.environ:
                settings = self.settings = msgspec.structs.replace(settings, stream_replicas=3)
            extra_env["RUNWIRE_STREAM_REPLICAS"] = str(settings.stream_replicas)
        if not nats_url and self.cluster:
            nodes = cluster_nodes(self.data_dir)
            routes = [node.route_port for node in nodes]
            for node in nodes:
                child = Child(ClusterNodeProcess(node, routes))
                self.nats.append(child)
                self._start(child)
            nats_url = ",".join(node.url for node in nodes)
        elif not nats_url:
            port = nats_port(self.data_dir)
            server = EmbeddedNats(self.data_dir / "nats", port=port)
            self.nats.append(Child(NatsProcess(server)))
            try:
                self._start(self.nats[0])
            except EmbeddedNatsError as exc:
                raise EmbeddedNatsError(
                    f"{exc}\n  the NATS port {port} is remembered in {port_file(self.data_dir)}; "
                    "free that port, or delete the file to choose another"
                ) from exc
            nats_url = server.url
        self.nats_url = nats_url
        # Every listed server: a cluster's first node may be the one that is down.
        asyncio.run(_ensure_stream(settings, [url.strip() for url in nats_url.split(",") if url.strip()]))
        self.secret = settings.auth_secret or dev_secret(self.data_dir)
        env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": self.secret,
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        services = installed_services()
        if self.cluster:
            count = len(SERVICES)
            services += [
                service.instance(number, count)
                for number in range(2, CLUSTER_INSTANCES + 1)
                for service in installed_services()
            ]
        for service in services:
            port = settings.service_port(service.offset)
            url = f"http://{settings.http_host}:{port}"
            service_env = {**env, "RUNWIRE_HTTP_PORT": service.port_env(settings.http_port)}
            child = Child(ServiceProcess(service, service_env), url=url)
            self.services.append(child)
            self._start(child)

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.started_at = time.monotonic()
        child.process.start()
        self._write_processes()

    def _write_processes(self) -> None:
        """Keep `<data dir>/processes.json` (each child's PID, the NATS URL) current for operators
        and tests; replaced atomically at every (re)start."""
        record = {
            "supervisor": os.getpid(),
            "nats_url": self.nats_url or None,
            "children": {c.process.name: c.process.pid for c in self.children if c.process.pid},
        }
        path = self.data_dir / PROCESSES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=2) + "\n")
        temporary.replace(path)

    def heal(self) -> None:
        """Schedule a restart for each child that exited; start the ones whose delay has passed."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None:
                status = child.process.exit_status()
                if status is None:
                    continue
                delay = child.backoff.delay(now - child.started_at)
                child.restart_at = now + delay
                say(
                    f"{child.process.name} (pid {child.process.pid}) {describe_exit(status)}; "
                    f"restarting in {delay:g}s"
                )
            elif now >= child.restart_at and not self.stopping:
                try:
                    self._start(child)
                except (EmbeddedNatsError, OSError) as exc:
                    delay = child.backoff.delay(0.0)
                    child.restart_at = time.monotonic() + delay
                    say(f"{child.process.name} did not start again ({exc}); retrying in {delay:g}s")

    def not_ready(self) -> dict[str, str]:
        """The services not answering /readyz 200 (name -> what they answered)."""
        pending: dict[str, str] = {}
        for child in self.services:
            assert child.url is not None
            reason = not_ready_reason(child.url)
            if reason is not None:
                pending[child.process.name] = reason
        return pending

    def watch(self, on_ready: Callable[[], None]) -> int:
        """Heal children until a signal asks to stop; call `on_ready` once every service is ready
        (saying which are not, once, if that takes over READY_TIMEOUT_SECONDS)."""
        ready = False
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        warned = False
        while not self.stopping:
            self.heal()
            if not ready:
                pending = self.not_ready()
                if not pending:
                    ready = True
                    on_ready()
                elif not warned and time.monotonic() > deadline:
                    warned = True
                    names = ", ".join(f"{name} ({reason})" for name, reason in pending.items())
                    say(f"not ready after {READY_TIMEOUT_SECONDS:g}s: {names}; still trying")
            time.sleep(TICK_SECONDS)
        return 0

    def urls(self) -> dict[str, str]:
        """What the banner shows: each service's URL, the NATS URL and a dev token."""
        urls = {c.process.name: c.url for c in self.services if c.url}
        urls["nats"] = self.nats_url
        urls["token"] = issue_token(self.secret, "dev", "*", ttl_seconds=30 * 86_400)
        return urls

    def stop(self) -> None:
        """SIGTERM every service (newest first), wait for them, kill stragglers, stop NATS last."""
        self.stopping = True
        for child in reversed(self.services):
            child.process.terminate()
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + 5
        for child in reversed(self.services):
            child.process.wait(max(0.1, deadline - time.monotonic()))
        self.services.clear()
        for child in self.nats:
            child.process.terminate()
        for child in self.nats:
            child.process.wait(10)
        self.nats.clear()
        (self.data_dir / PROCESSES_FILE).unlink(missing_ok=True)


def print_banner(urls: dict[str, str], stream_workers: int) -> None:
    print("\nrunwire is running:", flush=True)
    for name, url in urls.items():
        if name not in ("nats", "token"):
            print(f"  {name:<13} {url}")
    stream_api = urls.get("stream-api")
    if stream_api:
        print(f"  {'dashboard':<13} {stream_api}/?access_token={urls['token']}")
        print(f"  {'openapi':<13} {stream_api}/schema")
        processes = "process" if stream_workers == 1 else "processes"
        print(f"  {'workers':<13} {stream_workers} stream-API {processes} each (RUNWIRE_STREAM_WORKERS)")
    print(f"  {'nats':<13} {urls['nats']}")
    print(f"\ndev token (all projects, 30 days):\n  {urls['token']}\n")
    print("Ctrl-C stops everything.", flush=True)


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        say(str(exc))
        return 2
    raise_open_file_limit()  # for every service it starts: each stream is a file descriptor
    supervisor = Supervisor(settings, cluster="--cluster" in sys.argv[1:])

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        supervisor.start()
        status = supervisor.watch(lambda: print_banner(supervisor.urls(), settings.stream_worker_count))
    except (RuntimeError, EmbeddedNatsError, OSError) as exc:
        say(str(exc))
        status = 1
    finally:
        say("stopping")
        supervisor.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
