"""`make cluster` with two replicas of every domain service: work is shared, never done twice, and
survives kill -9 of a replica or of the stream leader (DESIGN.md "Event sourcing in the domain services").

One cluster serves the module (it takes a while to start on two cores); each test starts its own
workflow runs in its own project, each run with an ingest node, a delay and an agent node, slowed
down so that the faults land mid-run. Exactly once is read from the stream: every node starts and
completes once, every ingest progress record and every agent step appears once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import nats
import pytest

from runwire.contract.envelope import CloudEvent
from runwire.contract.filters import make_filter
from runwire.contract.stored_check import stored_event
from runwire.jetstream.event_store import EventStore
from runwire_dev.supervisor import PROCESSES_FILE
from tests.faults.running_system import ROOT, SERVICES, RunningSystem, running_system, wait_for_banner
from tests.support.eventually import eventually

DOMAIN = ("ingest", "agent", "workflow")
DOCUMENT = " ".join(
    f"Foxes hunt alone at dusk, part {n}; they eat rodents, birds and fruit." for n in range(12)
)
WORKFLOW = f"""\
name: replicas
nodes:
  - id: load
    kind: ingest
    name: foxes.txt
    document: "{DOCUMENT}"
    chunk_size: 60
    chunk_overlap: 5
  - id: settle
    kind: delay
    seconds: 1
    needs: [load]
  - id: summarise
    kind: agent
    prompt: What do foxes eat? And how much is 12 * 12?
    needs: [settle]
"""
SLOW = {
    "RUNWIRE_INGEST_CHUNK_DELAY_SECONDS": "0.25",
    "RUNWIRE_AGENT_STEP_DELAY_SECONDS": "0.8",
}
TAKEOVER_LIMIT_SECONDS = 5.0
RUN_LIMIT_SECONDS = 90.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("cluster"), "--cluster", http_ports=8, **SLOW) as system:
        asyncio.run(wait_for_banner(system, timeout=120))
        yield system


def url(system: RunningSystem, instance: str) -> str:
    """The URL of `ingest`, `ingest-2`, ...: second instances sit four ports above the first."""
    service, second = instance.removesuffix("-2"), instance.endswith("-2")
    return f"http://127.0.0.1:{system.http_port + SERVICES.index(service) + (len(SERVICES) if second else 0)}"


def nats_servers(system: RunningSystem) -> list[str]:
    record = json.loads((system.data_dir / PROCESSES_FILE).read_text())
    servers: str = record["nats_url"]
    return servers.split(",")


@pytest.fixture
async def http(cluster: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {cluster.token()}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        yield client


async def start_runs(http: httpx.AsyncClient, system: RunningSystem, project: str, count: int) -> list[str]:
    """`count` workflow runs, created alternately through the two workflow replicas."""
    runs = []
    for index in range(count):
        base = url(system, "workflow" if index % 2 == 0 else "workflow-2")
        response = await http.post(
            f"{base}/v1/projects/{project}/workflow/runs",
            content=WORKFLOW,
            headers={"Content-Type": "application/yaml", "Idempotency-Key": f"{project}-{index}"},
        )
        assert response.status_code == 201, response.text
        runs.append(response.json()["id"])
    return runs


async def all_completed(
    http: httpx.AsyncClient, system: RunningSystem, project: str, runs: list[str]
) -> bool:
    for run in runs:
        response = await http.get(f"{url(system, 'workflow-2')}/v1/projects/{project}/workflow/runs/{run}")
        if response.status_code != 200:
            return False
        status = response.json()["status"]
        assert status in ("running", "completed"), response.text
        if status != "completed":
            return False
    return True


async def project_events(system: RunningSystem, project: str) -> list[tuple[int, CloudEvent]]:
    nc = await nats.connect(nats_servers(system))
    try:
        store = EventStore(nc)
        return [
            (message.seq, event)
            async for message in store.iter_messages(make_filter(project))
            if (event := stored_event(message)) is not None
        ]
    finally:
        await nc.close()


def repeated(events: list[tuple[int, CloudEvent]]) -> list[str]:
    """Every step recorded more than once: node starts/completions, ingest progress, agent steps."""
    steps: Counter[tuple[Any, ...]] = Counter()
    for _, event in events:
        data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
        if event.type in ("workflow.node.started", "workflow.node.completed"):
            steps[(event.subject, event.type, data["node"])] += 1
        elif event.type == "ingest.job.updated":
            steps[(event.subject, event.type, data["stage"], json.dumps(data["counts"], sort_keys=True))] += 1
        elif event.type == "agent.step.updated":
            steps[(event.subject, event.type, data["index"], data["status"])] += 1
        elif event.type.endswith((".created", ".completed")):
            steps[(event.subject, event.type)] += 1
    return [f"{step} x{count}" for step, count in steps.items() if count > 1]


def longest_pause(events: list[tuple[int, CloudEvent]], aggregate_types: str, after: float) -> float:
    """The longest time, after `after` (epoch seconds), between consecutive events of any one aggregate
    of the given type prefix: how long its work stood still."""
    last: dict[str, float] = {}
    longest = 0.0
    for _, event in events:
        if not event.type.startswith(aggregate_types) or event.time is None or event.subject is None:
            continue
        at = event.time.timestamp()
        previous = last.get(event.subject)
        if previous is not None and at > after:
            longest = max(longest, at - previous)
        last[event.subject] = at
    return longest


async def holding_replica(http: httpx.AsyncClient, system: RunningSystem, service: str) -> str | None:
    """A replica of `service` that holds work now (its /readyz counts it), if any."""
    for instance in (service, f"{service}-2"):
        try:
            ready = await http.get(f"{url(system, instance)}/readyz")
        except httpx.HTTPError:
            continue
        if ready.status_code == 200 and ready.json().get("work_held", 0) > 0:
            return instance
    return None


async def completed_once(
    http: httpx.AsyncClient, system: RunningSystem, project: str, runs: list[str]
) -> list[tuple[int, CloudEvent]]:
    """Wait until every run completed; then its events, asserted to hold every step exactly once."""
    await eventually(lambda: all_completed(http, system, project, runs), RUN_LIMIT_SECONDS)
    events = await project_events(system, project)
    assert repeated(events) == []
    assert Counter(event.type for _, event in events)["workflow.run.completed"] == len(runs)
    assert_no_crash(system)
    return events


def assert_no_crash(system: RunningSystem) -> None:
    """Whatever the faults so far did, no service logged a crashed task or an unexpected error
    (checked after every scenario, so it holds whichever scenarios run and in what order)."""
    bad = [
        line
        for line in system.log().splitlines()
        if "Traceback" in line or " crashed" in line or ("ERROR" in line and "killed" not in line)
    ]
    assert bad == [], "\n".join(bad[:20])


def kill(system: RunningSystem, child: str) -> float:
    os.kill(system.pids()[child], signal.SIGKILL)
    return time.time()


@pytest.mark.timeout(300)
async def test_two_replicas_of_each_service_do_no_work_twice(
    cluster: RunningSystem, http: httpx.AsyncClient
) -> None:
    project = f"r-{uuid.uuid4().hex[:8]}"
    runs = await start_runs(http, cluster, project, 4)
    await completed_once(http, cluster, project, runs)


@pytest.mark.timeout(300)
async def test_a_killed_replica_of_each_domain_service_has_its_work_taken_over(
    cluster: RunningSystem, http: httpx.AsyncClient
) -> None:
    project = f"k-{uuid.uuid4().hex[:8]}"
    runs = await start_runs(http, cluster, project, 3)
    killed_at: dict[str, float] = {}
    for service in ("workflow", "ingest", "agent"):
        holder = await eventually(functools.partial(holding_replica, http, cluster, service), 60)
        killed_at[service] = kill(cluster, holder)
    events = await completed_once(http, cluster, project, runs)
    pauses = {
        service: longest_pause(events, prefix, killed_at[service])
        for service, prefix in (("ingest", "ingest.job."), ("agent", "agent."))
    }
    print(f"longest pause of a killed replica's work after the kill: {pauses}")
    assert all(pause < TAKEOVER_LIMIT_SECONDS + 2 for pause in pauses.values()), pauses


@pytest.mark.timeout(300)
async def test_workflow_runs_survive_a_kill_of_the_stream_leader(
    cluster: RunningSystem, http: httpx.AsyncClient
) -> None:
    project = f"l-{uuid.uuid4().hex[:8]}"
    runs = await start_runs(http, cluster, project, 2)
    await eventually(lambda: holding_replica(http, cluster, "ingest"), 60)
    kill(cluster, f"nats-{await stream_leader(cluster)}")
    await completed_once(http, cluster, project, runs)


async def replicas_current(system: RunningSystem, restarted: str, old_pid: int) -> bool:
    """Whether node `restarted` runs again (a new PID) and every replica of EVENTS is current."""
    pid = system.pids().get(f"nats-{restarted}")
    if pid is None or pid == old_pid:
        return False
    try:
        nc = await nats.connect(nats_servers(system), connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        info = await nc.jetstream().stream_info("EVENTS")
    except Exception:
        return False
    finally:
        await nc.close()
    peers = info.cluster.replicas if info.cluster is not None else None
    return bool(peers) and len(peers or []) == 2 and all(p.current and not p.offline for p in peers or [])


@pytest.mark.timeout(300)
async def test_work_goes_on_across_a_rolling_restart_of_the_three_nodes(
    cluster: RunningSystem, http: httpx.AsyncClient
) -> None:
    project = f"o-{uuid.uuid4().hex[:8]}"
    runs = await start_runs(http, cluster, project, 2)
    for node in ("n1", "n2", "n3"):
        old_pid = cluster.pids()[f"nats-{node}"]
        os.kill(old_pid, signal.SIGTERM)  # an operator's restart: the supervisor starts it again
        await eventually(functools.partial(replicas_current, cluster, node, old_pid), 60)
    events = await completed_once(http, cluster, project, runs)
    query = "events?from=earliest&limit=1000"
    pages = [
        (await http.get(f"{url(cluster, instance)}/v1/projects/{project}/{query}")).json()
        for instance in ("stream-api", "stream-api-2")
    ]
    assert pages[0] == pages[1]
    assert [item["id"] for item in pages[0]["events"]] == [str(seq) for seq, _ in events]


async def stream_leader(system: RunningSystem) -> str:
    nc = await nats.connect(nats_servers(system))
    try:
        info = await nc.jetstream().stream_info("EVENTS")
    finally:
        await nc.close()
    assert info.cluster is not None and info.cluster.leader is not None
    return info.cluster.leader


@pytest.mark.timeout(300)
async def test_make_demo_completes_across_a_kill_of_the_stream_leader(
    cluster: RunningSystem, http: httpx.AsyncClient
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    environment |= {"RUNWIRE_DATA_DIR": str(cluster.data_dir), "RUNWIRE_HTTP_PORT": str(cluster.http_port)}
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runwire_dev.demo",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:

        async def demo_in_flight() -> bool:
            holders = [await holding_replica(http, cluster, service) for service in DOMAIN]
            return any(holders)

        await eventually(demo_in_flight, 60)
        kill(cluster, f"nats-{await stream_leader(cluster)}")
        output, _ = await asyncio.wait_for(demo.communicate(), 150)
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    lines = output.decode().splitlines()
    assert demo.returncode == 0, "\n".join(lines)
    assert lines[-1].startswith("project=demo-")
    assert_no_crash(cluster)
