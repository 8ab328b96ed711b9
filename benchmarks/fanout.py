"""Fan-out benchmark of one stream API process: run by hand, prints its figures.

    .venv/bin/python benchmarks/fanout.py                    # every scenario with the issue's sizes
    .venv/bin/python benchmarks/fanout.py --scenario replay  # one scenario

It starts an embedded nats-server and `python -m runwire_stream_api` (as `make run` does), opens
lean asyncio SSE readers (raw sockets, regex over the bytes, so the client is not the bottleneck),
publishes straight to JetStream at a fixed rate, and reports deliveries/s, publish-to-client latency
(p50/p99/max), server RSS (and per connection), server CPU (and µs per delivery), and catch-up
replay events/s. After the fan-out scenarios it runs them again against the bare fan-out reference
(benchmarks/bare_fanout.py: one consumer, raw socket writes, no features) and prints runwire's CPU
per delivery as a ratio to it, taken on the same machine at the same moment (`--no-reference` skips).
Everything runs on 127.0.0.1 and stops by itself.

    .venv/bin/python benchmarks/fanout.py --scenario throughput --workers 2  # RUNWIRE_STREAM_WORKERS

Server CPU, RSS and PSS are summed over the stream API's whole process tree (the parent and its
workers), with CPU per process printed when there are several; `--workers` defaults to 1 so that
figures stay comparable with earlier runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec
import nats
import uvloop

from runwire.contract.envelope import encode_event, new_event
from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore, StreamSettings
from runwire.web.auth import issue_token

SECRET = "benchmark-secret-0123456789abcdef"
ID_RE = re.compile(rb"id: (\d+)\n")
GRANIAN_APP = """
from runwire.ops.settings import load_settings
from runwire_stream_api.app import create_app

app = create_app(load_settings())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (the stream API's parent and its workers)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            stack += map(int, Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except FileNotFoundError:
            continue
    return found


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each process of the tree so far."""
    seconds = {}
    for member in process_tree(pid):
        try:
            seconds[member] = cpu_seconds(member)
        except FileNotFoundError:
            continue
    return seconds


def tree_memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) summed over the tree: PSS counts pages the workers share once, RSS once each."""
    rss = pss = 0.0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except (FileNotFoundError, PermissionError):
            continue
    return rss, pss


def machine_load() -> str:
    """How busy the machine is (benchmarks here share it): the 1/5/15-minute load averages."""
    return f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> tuple[float, list[float]]:
    """CPU seconds the tree spent between two `tree_cpu` readings: the total and each process's."""
    each = [after[member] - before.get(member, 0.0) for member in after]
    return sum(each), each


class Reader(asyncio.Protocol):
    """One SSE connection as a bare asyncio protocol: bytes are scanned in `data_received`, with
    no task wake-up per read, so that the client side adds as little delay as it can."""

    def __init__(self, record: bool = True) -> None:
        self.record = record
        self.received: list[tuple[int, float]] = []
        self.count = 0
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self._head = b""
        self._tail = b""
        self._streaming = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self._streaming:
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, _, data = self._head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                self.ready.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self._streaming = True
            self.ready.set_result(None)
        data = self._tail + data
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self._tail = data
            return
        self._tail = data[cut + 2 :]
        ids = ID_RE.findall(data, 0, cut + 2)
        self.count += len(ids)
        if self.record:
            self.received.extend((int(i), now) for i in ids)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before the response"))
        if not self.closed.done():
            self.closed.set_result(None)

    @classmethod
    async def open(cls, port: int, path: str, token: str, record: bool = True) -> Reader:
        loop = asyncio.get_running_loop()
        _, reader = await loop.create_connection(lambda: cls(record), "127.0.0.1", port)
        assert reader.transport is not None
        reader.transport.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        await asyncio.wait_for(reader.ready, 30)
        return reader

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class System:
    """The embedded nats-server and a stream API process."""

    def __init__(
        self,
        workdir: Path,
        server: str,
        workers: int = 1,
        telemetry: bool = False,
        max_connections: int = 20_000,
    ) -> None:
        self.workdir = workdir
        self.max_connections = max_connections
        self.server = server
        self.workers = workers
        self.telemetry = telemetry
        self.nats = EmbeddedNats(workdir / "nats")
        self.api: subprocess.Popen[bytes] | None = None
        self.sink: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    async def start(self) -> None:
        url = self.nats.start()
        nc = await nats.connect(url)
        await EventStore(nc).ensure_stream(StreamSettings())
        await nc.close()
        env = {
            **os.environ,
            "RUNWIRE_NATS_URL": url,
            "RUNWIRE_AUTH_SECRET": SECRET,
            "RUNWIRE_HTTP_PORT": str(self.port),
            "RUNWIRE_MAX_CONNECTIONS": str(self.max_connections),
            "RUNWIRE_LOG_LEVEL": "warning",
            "RUNWIRE_STREAM_WORKERS": str(self.workers),
        }
        log = (self.workdir / "stream-api.log").open("wb")
        if self.telemetry and self.server != "bare":  # every event traced, exported to a discarding sink
            sink_port = free_port()
            sink = Path(__file__).with_name("otlp_sink.py")
            self.sink = subprocess.Popen([sys.executable, str(sink), str(sink_port)])
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
            env["OTEL_TRACES_SAMPLER"] = "parentbased_always_on"
        if self.server == "bare":  # the reference: benchmarks/bare_fanout.py, no runwire at all
            command = [sys.executable, str(Path(__file__).with_name("bare_fanout.py")), str(self.port), url]
        elif self.server == "granian":  # for comparison only; granian is not a runwire dependency
            (self.workdir / "granian_app.py").write_text(GRANIAN_APP)
            command = [
                str(Path(sys.executable).parent / "granian"),
                *("--interface", "asgi", "--loop", "uvloop", "--backlog", "4096", "--backpressure", "20000"),
                *("--host", "127.0.0.1", "--port", str(self.port), "granian_app:app"),
            ]
            env["PYTHONPATH"] = str(self.workdir)
        else:
            command = [sys.executable, "-m", "runwire_stream_api"]
        self.api = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        for _ in range(300):  # ready when /readyz answers 200 (the lifespan has run)
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                status = await reader.readline()
                writer.close()
                if status.startswith(b"HTTP/1.1 200"):
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("stream API did not start")

    def stop(self) -> None:
        if self.api is not None and self.api.poll() is None:
            self.api.terminate()
            try:
                self.api.wait(20)
            except subprocess.TimeoutExpired:
                self.api.kill()
                self.api.wait()
        if self.sink is not None:
            self.sink.kill()
            self.sink.wait()
        self.nats.stop()

    @property
    def root(self) -> int:
        """The process whose tree serves requests (the stream API's parent, with its workers)."""
        assert self.api is not None
        return self.api.pid

    @property
    def pid(self) -> int:
        """The process serving requests (granian serves from a worker child)."""
        assert self.api is not None
        children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children").read_text().split()
        return int(children[0]) if self.server == "granian" and children else self.api.pid


async def open_readers(system: System, project: str, count: int, record: bool = True) -> list[Reader]:
    token = issue_token(SECRET, "bench", [project])
    path = f"/v1/projects/{project}/events/stream"
    readers: list[Reader] = []
    for start in range(0, count, 200):
        size = min(200, count - start)
        readers += await asyncio.gather(*(Reader.open(system.port, path, token, record) for _ in range(size)))
    await asyncio.sleep(0.5)  # every client attached to the fan-out
    return readers


async def publish_at_rate(url: str, project: str, rate: float, seconds: float) -> dict[int, float]:
    """Publish `rate` events/s for `seconds` straight to JetStream; returns cursor -> publish time."""
    nc = await nats.connect(url)
    published: dict[int, float] = {}
    interval = 1.0 / rate
    started = time.perf_counter()
    total = int(rate * seconds)
    pending: list[asyncio.Task[None]] = []

    async def one(index: int) -> None:
        event = new_event(type="bench.tick", project=project, source="/bench", subject="b", data={"i": index})
        at = time.time()
        reply = await nc.request(
            f"events.{project}.b.bench.tick",
            encode_event(event),
            timeout=5,
            headers={"Nats-Msg-Id": event.id},
        )
        published[msgspec.json.decode(reply.data)["seq"]] = at

    for index in range(total):
        target = started + index * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(index)))
    await asyncio.gather(*pending)
    await nc.close()
    return published


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fanout(system: System, clients: int, rate: float, seconds: float, label: str) -> float:
    """Run one fan-out scenario, print its figures, and return the server's CPU µs per delivery."""
    project = f"bench-{uuid.uuid4().hex[:8]}"
    readers = await open_readers(system, project, clients)
    rss_connected, pss_connected = tree_memory_mib(system.root)
    cpu_before = tree_cpu(system.root)
    started = time.perf_counter()
    published = await publish_at_rate(system.nats.url, project, rate, seconds)
    expected = len(published) * clients
    deadline = time.perf_counter() + 30
    while sum(r.count for r in readers) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    cpu, per_process = cpu_spent(cpu_before, tree_cpu(system.root))
    delivered = sum(r.count for r in readers)
    latencies = [
        (at - published[cursor]) * 1000 for r in readers for cursor, at in r.received if cursor in published
    ]
    server = await server_latency(system, project)
    for reader in readers:
        reader.close()
    print(
        f"{label}: {clients} clients, {rate:g} events/s for {seconds:g}s -> "
        f"{delivered}/{expected} delivered, {delivered / elapsed:,.0f} deliveries/s; "
        f"latency ms p50 {percentile(latencies, 0.5):.1f} p99 {percentile(latencies, 0.99):.1f} "
        f"max {max(latencies, default=float('nan')):.1f}; server CPU {cpu / elapsed * 100:.0f}% "
        f"({cpu / max(delivered, 1) * 1e6:.1f} µs per delivery); "
        f"server RSS {rss_connected:.0f} MiB (PSS {pss_connected:.0f} MiB) with the clients connected"
        + (
            f"; CPU per process (parent first) {', '.join(f'{c / elapsed * 100:.0f}%' for c in per_process)}"
            if len(per_process) > 1
            else ""
        )
        + "; the server's own view "
        f"(publish to socket write, last 10 s): {server}"
    )
    await asyncio.sleep(1)
    return cpu / max(delivered, 1) * 1e6


async def server_latency(system: System, project: str) -> str:
    """p50/p99 of delivery latency as the stream API itself measured it (GET /v1/stats)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", system.port)
    token = issue_token(SECRET, "bench", [project])
    writer.write(
        f"GET /v1/stats HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    response = await reader.read()
    writer.close()
    latency = msgspec.json.decode(response.split(b"\r\n\r\n", 1)[1])["latency"]
    if not latency["count"]:
        return "no deliveries"
    return f"p50 <= {latency['p50'] * 1000:.1f} ms, p99 <= {latency['p99'] * 1000:.1f} ms"


async def idle(system: System, connections: int) -> None:
    project = f"idle-{uuid.uuid4().hex[:8]}"
    before, pss_before = tree_memory_mib(system.root)
    readers = await open_readers(system, project, connections, record=False)
    await asyncio.sleep(2)
    after, pss_after = tree_memory_mib(system.root)
    print(
        f"idle: {connections} SSE connections -> server RSS {after:.0f} MiB "
        f"({before:.0f} MiB before; {(after - before) * 1024 / connections:.1f} KiB per connection); "
        f"PSS {pss_after:.0f} MiB ({pss_before:.0f} MiB before)"
    )
    for reader in readers:
        reader.close()
    await asyncio.sleep(2)


async def store_events(url: str, project: str, events: int) -> float:
    """Store `events` small events of one aggregate straight to JetStream; returns the seconds it took."""
    nc = await nats.connect(url, pending_size=256 * 1024 * 1024)
    js = nc.jetstream(publish_async_max_pending=4000)
    body = encode_event(
        new_event(type="bench.stored", project=project, source="/bench", subject="r", data={"k": "v"})
    )
    subject = f"events.{project}.r.bench.stored"
    started = time.perf_counter()
    for index in range(events):
        await js.publish_async(subject, body, headers={"Nats-Msg-Id": f"{project}-{index}"})
    await js.publish_async_completed()
    await nc.close()
    return time.perf_counter() - started


async def settled(pid: int, seconds: float = 30.0) -> None:
    """Wait until the server is idle (under 5% of a core over 0.2 s): its live tail has checked what
    was just stored, so that work is not counted as the read's."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.2)
        if cpu_seconds(pid) - before < 0.01:
            return


async def read_stored(port: int, pid: int, project: str, events: int) -> tuple[int, float, float]:
    """One SSE client reading a project from its earliest event: (received, seconds, server CPU s)."""
    token = issue_token(SECRET, "bench", [project])
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    reader = await Reader.open(port, f"/v1/projects/{project}/events/stream?from=earliest", token, False)
    deadline = started + 120
    while reader.count < events and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    reader.close()
    return reader.count, elapsed, cpu


def read_figures(label: str, events: int, received: int, elapsed: float, cpu: float) -> str:
    return (
        f"{label}: {received}/{events} events to one SSE client in {elapsed:.2f}s -> "
        f"{received / elapsed:,.0f} events/s; server CPU {cpu:.2f}s = {cpu / max(received, 1) * 1e6:.2f} µs "
        f"per event ({received / max(cpu, 1e-9):,.0f} events per CPU-second)"
    )


async def start_history_reader(system: System) -> tuple[subprocess.Popen[bytes], int]:
    """Another stream API process on the same NATS, started now: what is stored already is history
    to it (no verdicts from its live tail), so its first read checks every message once."""
    port = free_port()
    env = {
        **os.environ,
        "RUNWIRE_NATS_URL": system.nats.url,
        "RUNWIRE_AUTH_SECRET": SECRET,
        "RUNWIRE_HTTP_PORT": str(port),
        "RUNWIRE_LOG_LEVEL": "warning",
        "RUNWIRE_STREAM_WORKERS": "1",
    }
    log = (system.workdir / "history-api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "runwire_stream_api"], env=env, stdout=log, stderr=log)
    for _ in range(300):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if status.startswith(b"HTTP/1.1 200"):
                return process, port
        except OSError:
            pass
        await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("history stream API did not start")


async def catch_up(system: System, events: int) -> None:
    """A live client that stops reading while `events` are published: the fan-out drops it to
    catch-up; once it reads again, the rest comes from JetStream by the same path as a replay."""
    project = f"catchup-{uuid.uuid4().hex[:8]}"
    token = issue_token(SECRET, "bench", [project])
    reader = await Reader.open(system.port, f"/v1/projects/{project}/events/stream", token, False)
    assert reader.transport is not None
    await asyncio.sleep(0.5)  # attached to the fan-out
    reader.transport.pause_reading()
    await store_events(system.nats.url, project, events)
    await settled(system.pid)  # the live tail has offered them all: the client is behind
    cpu_before = cpu_seconds(system.pid)
    started = time.perf_counter()
    reader.transport.resume_reading()
    deadline = started + 120
    while reader.count < events and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(system.pid) - cpu_before
    reader.close()
    print(
        read_figures(
            "catch-up (a paused live client, then reading again)", events, reader.count, elapsed, cpu
        )
    )


async def replay(system: System, events: int) -> None:
    """Replay of stored events to one client: stored while the stream API ran (its live tail checked
    them), then by a stream API started afterwards (first read checks each, second uses the cache),
    then catch-up of a slow client."""
    project = f"replay-{uuid.uuid4().hex[:8]}"
    stored_in = await store_events(system.nats.url, project, events)
    print(f"replay: stored {events} events in {stored_in:.1f}s")
    await settled(system.pid)  # the live tail has read them
    received, elapsed, cpu = await read_stored(system.port, system.pid, project, events)
    print(read_figures("replay (stored while running: live verdicts)", events, received, elapsed, cpu))
    process, port = await start_history_reader(system)
    try:
        for label in ("first read checks each", "second read, verdicts cached"):
            received, elapsed, cpu = await read_stored(port, process.pid, project, events)
            print(
                read_figures(
                    f"replay (history from before the start, {label})", events, received, elapsed, cpu
                )
            )
    finally:
        process.terminate()
        process.wait(20)
    await catch_up(system, events)


async def reference(workdir: Path, args: argparse.Namespace, costs: dict[str, float]) -> None:
    """The same fan-out scenarios against the bare reference (bare_fanout.py), now, on this machine:
    runwire's CPU per delivery as a ratio to it."""
    bare = System(workdir / "reference", "bare")
    (workdir / "reference").mkdir()
    await bare.start()
    try:
        rates = {"throughput": args.rate, "latency": args.latency_rate}
        for label, cost in costs.items():
            base = await fanout(bare, args.clients, rates[label], args.seconds, f"reference {label}")
            print(f"{label}: runwire {cost:.1f} µs per delivery = {cost / base:.2f}x the bare reference")
    finally:
        bare.stop()


async def main(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="runwire-bench-") as tmp:
        system = System(Path(tmp), args.server, args.workers, args.telemetry)
        await system.start()
        try:
            print(
                f"stream API on {args.server}: pid {system.pid}, RSS at start {rss_mib(system.pid):.0f} MiB"
                f"; {args.workers} worker(s), tree RSS/PSS at start "
                + "/".join(f"{mib:.0f}" for mib in tree_memory_mib(system.root))
                + f" MiB; telemetry {'on, every event traced' if args.telemetry else 'off'}; {machine_load()}"
            )
            costs: dict[str, float] = {}
            if args.scenario in ("all", "throughput"):
                costs["throughput"] = await fanout(
                    system, args.clients, args.rate, args.seconds, "throughput"
                )
            if args.scenario in ("all", "latency"):
                costs["latency"] = await fanout(
                    system, args.clients, args.latency_rate, args.seconds, "latency"
                )
            if costs and args.reference and args.server != "bare":
                await reference(Path(tmp), args, costs)
            if args.server == "bare":
                return
            if args.scenario in ("all", "replay"):
                await replay(system, args.replay)
            if args.scenario in ("all", "idle"):
                await idle(system, args.idle)
        finally:
            system.stop()
            print(f"done; {machine_load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario", choices=["all", "throughput", "latency", "replay", "idle"], default="all"
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=60.0, help="events/s in the throughput scenario")
    parser.add_argument("--latency-rate", type=float, default=10.0, help="events/s in the latency scenario")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--replay", type=int, default=100_000)
    parser.add_argument(
        "--server",
        choices=["uvicorn", "granian", "bare"],
        default="uvicorn",
        help="ASGI server (granian to compare: `uv pip install granian` first); bare: only the reference",
    )
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="OpenTelemetry on in the stream API (OTLP to a discarding sink, every event traced)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="RUNWIRE_STREAM_WORKERS of the runwire server (1, the default, keeps figures comparable)",
    )
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the bare fan-out reference run after the fan-out scenarios",
    )
    uvloop.run(main(parser.parse_args()))
