"""Many idle SSE connections on one host: memory, heartbeat CPU and one event's fan-out to all of them.

    .venv/bin/python -m benchmarks.connections                       # 100,000 connections
    .venv/bin/python -m benchmarks.connections --connections 20000 --workers 2

Starts an embedded nats-server and `python -m runwire_stream_api` with RUNWIRE_STREAM_WORKERS
workers (by default one per 16,000 connections, each allowed 18,000: a process may open at most as
many files as its hard limit allows, 20,000 on the machine this was written on), then client
processes, each opening its share of SSE connections from its own loopback source address
(127.0.0.10, .11, ...: one address has about 28,000 ephemeral ports towards one server port). It
reports the stream API's memory summed over its processes (RSS, and PSS, which counts the pages the
workers share since their fork once), the CPU the heartbeats cost at the default 15 s interval
while every connection idles, and how long one event takes to reach every connection. The bare
fan-out reference (bare_fanout.py) holds `--reference-connections` connections in the same run,
for its memory per connection. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
import uvloop

from benchmarks.fanout import System, cpu_spent, process_tree, tree_cpu, tree_memory_mib
from runwire.contract.envelope import encode_event, new_event
from runwire.web.auth import issue_token

SECRET = "benchmark-secret-0123456789abcdef"
PER_PROCESS = 18_000  # connections a client process opens, and the most a worker may hold
PER_WORKER = 16_000  # what --workers plans for: accepts are not spread evenly over the workers
HEARTBEAT = b": heartbeat"


# ---------------------------------------------------------------------------- the client processes


class Client(asyncio.Protocol):
    """One SSE connection: counts heartbeats and events; nothing else is kept."""

    __slots__ = ("connected", "events", "heartbeats", "lost", "ready", "tail")

    def __init__(self, ready: asyncio.Future[None]) -> None:
        self.ready = ready
        self.connected = False
        self.lost = False
        self.heartbeats = 0
        self.events = 0
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        joined = self.tail + data  # a marker may be split between two reads
        self.tail = joined[-16:]
        if not self.connected and b"\r\n\r\n" in joined:  # the response head
            if not joined.startswith(b"HTTP/1.1 200"):  # e.g. 503 when a worker has its share
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(joined.split(b"\r\n", 1)[0].decode()))
                return
            self.connected = True
            if not self.ready.done():
                self.ready.set_result(None)
        tail = joined[: len(joined) - len(data)]
        self.heartbeats += joined.count(HEARTBEAT) - tail.count(HEARTBEAT)
        self.events += joined.count(b"\nid: ") - tail.count(b"\nid: ")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the stream began"))


async def run_clients(port: int, source: str, count: int, path: str, token: str) -> None:
    """Open `count` connections from `source`, then print a status line every second."""
    loop = asyncio.get_running_loop()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    clients: list[Client] = []
    gate = asyncio.Semaphore(200)
    failed = 0

    async def one() -> None:
        nonlocal failed
        async with gate:
            for attempt in range(30):
                ready: asyncio.Future[None] = loop.create_future()
                transport: asyncio.BaseTransport | None = None
                try:
                    transport, client = await loop.create_connection(
                        lambda ready=ready: Client(ready),  # type: ignore[misc]
                        "127.0.0.1",
                        port,
                        local_addr=(source, 0),
                    )
                    transport.write(request)
                    await asyncio.wait_for(ready, 60)
                    clients.append(client)
                    return
                except (OSError, ConnectionError, TimeoutError):
                    if transport is not None:
                        transport.close()
                    await asyncio.sleep(min(2.0, 0.2 * (attempt + 1)))
            failed += 1

    async def report() -> None:
        while True:
            alive = [c for c in clients if not c.lost]
            status = {
                "connected": len(alive),
                "failed": failed,
                "heartbeats": sum(c.heartbeats for c in alive),
                "without_heartbeat": sum(1 for c in alive if c.heartbeats == 0),
                "events": sum(c.events for c in alive),
            }
            print(json.dumps(status), flush=True)
            await asyncio.sleep(1)

    reporter = asyncio.create_task(report())
    await asyncio.gather(*(one() for _ in range(count)))
    await reporter


# ---------------------------------------------------------------------------- the coordinator


def server_for(workdir: Path, connections: int, workers: int, bare: bool) -> System:
    """The stream API (or the bare reference) on an embedded nats-server, allowed `connections`.

    Each worker takes its share of the limit, and accepts are not spread evenly over the workers, so
    each may hold PER_PROCESS (a client refused by a full one tries again and lands elsewhere)."""
    workdir.mkdir(parents=True)
    limit = max(connections + 1000, workers * PER_PROCESS)
    return System(workdir, "bare" if bare else "uvicorn", workers, max_connections=limit)


class Clients:
    """The client processes and their latest status lines."""

    def __init__(self) -> None:
        self.processes: list[asyncio.subprocess.Process] = []
        self.status: list[dict[str, int]] = []
        self._readers: list[asyncio.Task[None]] = []

    async def open(self, port: int, connections: int, project: str) -> None:
        token = issue_token(SECRET, "bench", [project])
        path = f"/v1/projects/{project}/events/stream"
        count = math.ceil(connections / PER_PROCESS)
        for index in range(count):
            share = connections // count + (1 if index < connections % count else 0)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.connections",
                "--client",
                *("--port", str(port), "--source", f"127.0.0.{10 + index}", "--count", str(share)),
                *("--path", path, "--token", token),
                stdout=asyncio.subprocess.PIPE,
                cwd=Path(__file__).parent.parent,
            )
            self.processes.append(process)
            self.status.append(
                {"connected": 0, "failed": 0, "heartbeats": 0, "without_heartbeat": 0, "events": 0}
            )
            self._readers.append(asyncio.create_task(self._read(index, process)))

    async def _read(self, index: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.status[index] = json.loads(line)

    def total(self, key: str) -> int:
        return sum(status[key] for status in self.status)

    async def wait_for(self, key: str, value: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.total(key) >= value:
                return True
            if (
                self.total("failed")
                and self.total("connected") + self.total("failed") >= value
                and key == "connected"
            ):
                return False
            await asyncio.sleep(0.5)
        return False

    def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        for process in self.processes:
            if process.returncode is None:
                process.kill()


async def hold(workdir: Path, connections: int, workers: int, bare: bool, idle_seconds: float) -> None:
    """Open `connections` to one server, measure it, and print one line."""
    label = "bare reference" if bare else f"runwire ({workers} worker{'s' * (workers > 1)})"
    server = server_for(workdir, connections, workers, bare)
    await server.start()
    clients = Clients()
    try:
        await asyncio.sleep(1)
        rss_before, pss_before = tree_memory_mib(server.root)
        quiet = min(idle_seconds, 15.0)  # the server's own idle CPU (workers, NATS) without streams
        cpu_before = tree_cpu(server.root)
        await asyncio.sleep(quiet)
        baseline = cpu_spent(cpu_before, tree_cpu(server.root))[0] / quiet
        project = f"conn-{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        await clients.open(server.port, connections, project)
        if not await clients.wait_for("connected", connections, 900):
            print(
                f"{label}: only {clients.total('connected')}/{connections} connected "
                f"({clients.total('failed')} failed); see {server.workdir}; measuring those"
            )
        connected = clients.total("connected")
        opened = time.monotonic() - started
        await asyncio.sleep(2)
        pids = process_tree(server.root)
        rss, pss = tree_memory_mib(server.root)
        line = (
            f"{label}: {connected:,} SSE connections open in {opened:.0f}s; server RSS {rss:,.0f} MiB "
            f"(PSS {pss:,.0f} MiB) over {len(pids)} process(es), {rss_before:.0f}/{pss_before:.0f} MiB "
            f"before: {(pss - pss_before) * 1024 / connected:.1f} KiB PSS per connection"
        )
        if not bare:
            heartbeats_before = clients.total("heartbeats")
            cpu_before = tree_cpu(server.root)
            await asyncio.sleep(idle_seconds)
            cpu, _ = cpu_spent(cpu_before, tree_cpu(server.root))
            heartbeats = clients.total("heartbeats") - heartbeats_before
            line += (
                f"; idle {idle_seconds:.0f}s: {heartbeats:,} heartbeats, "
                f"server CPU {cpu / idle_seconds * 100:.1f}% of a core "
                f"({baseline * 100:.1f}% without streams, so heartbeats "
                f"{(cpu / idle_seconds - baseline) * 100:.1f}%, "
                f"{(cpu - baseline * idle_seconds) / max(heartbeats, 1) * 1e6:.1f} µs each), "
                f"{clients.total('without_heartbeat')} connections without any heartbeat"
            )
            fanned = await fan_out_one(server, clients, project, connected)
            line += f"; one event to all {connected:,}: {fanned}"
        print(line, flush=True)
    finally:
        clients.close()
        server.stop()


async def fan_out_one(server: System, clients: Clients, project: str, connections: int) -> str:
    """Publish one event and time its arrival at every connection."""
    nc = await nats.connect(server.nats.url)
    event = new_event(type="bench.tick", project=project, source="/bench", subject="c", data={"i": 0})
    started = time.monotonic()
    await nc.request(f"events.{project}.c.bench.tick", encode_event(event), timeout=5)
    await nc.close()
    if await clients.wait_for("events", connections, 120):
        return f"{time.monotonic() - started:.2f}s (client status lines come once a second)"
    return f"only {clients.total('events'):,} arrived"


async def main(args: argparse.Namespace) -> None:
    workers = args.workers or math.ceil(args.connections / PER_WORKER)
    with tempfile.TemporaryDirectory(prefix="runwire-connections-") as workdir:
        await hold(Path(workdir) / "runwire", args.connections, workers, False, args.idle_seconds)
        if args.reference_connections:
            await hold(Path(workdir) / "bare", args.reference_connections, 1, True, args.idle_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=0, help="stream API workers (default: 1 per 16,000)")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle window for the heartbeat CPU")
    parser.add_argument(
        "--reference-connections", type=int, default=15_000, help="0 skips the bare reference"
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.client:
        uvloop.run(
            run_clients(arguments.port, arguments.source, arguments.count, arguments.path, arguments.token)
        )
    else:
        uvloop.run(main(arguments))
