"""`make cluster`: three NATS nodes, EVENTS at R3, two instances of every service; the stream API's two
serve the same events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest

from runwire_dev.supervisor import PROCESSES_FILE
from tests.faults.running_system import RunningSystem, running_system, wait_for_banner

SECOND_STREAM_API_OFFSET = 4
CLUSTER_PORTS = 8  # two instances of each of the four services


@pytest.fixture
async def cluster_system(tmp_path: Path) -> AsyncIterator[RunningSystem]:
    with running_system(tmp_path, "--cluster", http_ports=CLUSTER_PORTS) as system:
        await wait_for_banner(system, timeout=90)
        yield system


def nats_urls(system: RunningSystem) -> list[str]:
    record = json.loads((system.data_dir / PROCESSES_FILE).read_text())
    urls: str = record["nats_url"]
    return urls.split(",")


@pytest.mark.timeout(150)
async def test_make_cluster_runs_three_nodes_with_events_at_r3(cluster_system: RunningSystem) -> None:
    children = cluster_system.pids()
    services = ("stream-api", "ingest", "agent", "workflow")
    assert {"nats-n1", "nats-n2", "nats-n3", *services, *(f"{name}-2" for name in services)} == set(children)
    nc = await nats.connect(nats_urls(cluster_system))
    try:
        info = await nc.jetstream().stream_info("EVENTS")
    finally:
        await nc.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None and info.cluster.leader in {"n1", "n2", "n3"}


@pytest.mark.timeout(150)
async def test_both_stream_api_instances_serve_the_same_events(cluster_system: RunningSystem) -> None:
    token = cluster_system.token()
    headers = {"Authorization": f"Bearer {token}"}
    first = cluster_system.url("stream-api")
    second = f"http://127.0.0.1:{cluster_system.http_port + SECOND_STREAM_API_OFFSET}"
    event = {"specversion": "1.0", "id": "e-1", "source": "/test", "type": "t.done", "project": "p1"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        published = await http.post(f"{first}/v1/projects/p1/events", json=event)
        assert published.status_code == 202, published.text
        pages = [
            (await http.get(f"{base}/v1/projects/p1/events?from=earliest")).json() for base in (first, second)
        ]
    assert pages[0] == pages[1]
    assert [item["event"]["id"] for item in pages[0]["events"]] == ["e-1"]


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(150)
async def test_stopping_make_cluster_leaves_no_process(tmp_path: Path) -> None:
    with running_system(tmp_path, "--cluster", http_ports=CLUSTER_PORTS) as system:
        await wait_for_banner(system, timeout=90)
        children = system.pids()
        system.process.send_signal(signal.SIGTERM)  # as Ctrl-C does; not the fixture's kill -9 sweep
        assert await asyncio.to_thread(system.process.wait, 60) == 0
        alive = [name for name, pid in children.items() if process_exists(pid)]
    assert alive == []
