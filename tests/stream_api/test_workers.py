"""RUNWIRE_STREAM_WORKERS=2: two worker processes on one port behave as one instance.

Which worker serves a connection is the kernel's choice; a test that needs a client on a given
worker stops the other one (SIGSTOP: it accepts nothing) while that client connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runwire.web.auth import issue_token
from tests.stream_api.conftest import SECRET, event
from tests.stream_api.test_slow_client import RawSSE
from tests.support.eventually import eventually
from tests.support.stream_api_process import StreamAPIProcess, alive, tcp_connections
from tests.support.stream_clients import SSEReader, events_of, sse

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def api(nats_url: str, tmp_path: Path) -> AsyncIterator[StreamAPIProcess]:
    server = StreamAPIProcess(
        nats_url, SECRET, tmp_path / "stream-api.log", workers=2, RUNWIRE_HEARTBEAT_SECONDS="0.5"
    )
    try:
        await server.start()
        await eventually(lambda: len(server.worker_pids()) == 2, timeout=10)
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def only(api: StreamAPIProcess, worker: int) -> Iterator[None]:
    """While inside, only worker `worker` accepts connections (the others are stopped)."""
    stopped = [pid for pid in api.worker_pids() if pid != worker]
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)


def token(project: str) -> str:
    return issue_token(SECRET, "t", [project])


async def publish(api: StreamAPIProcess, project: str, events: list[dict[str, Any]]) -> list[str]:
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        response = await http.post(
            f"/v1/projects/{project}/events",
            json=events,
            headers={"Authorization": f"Bearer {token(project)}"},
        )
    assert response.status_code == 202, response.text
    return [e["cursor"] for e in response.json()["events"]]


async def scrape(api: StreamAPIProcess) -> dict[str, float]:
    """Each sample of /metrics by `name{labels}`."""
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name + str(dict(sorted(sample.labels.items())) if sample.labels else ""): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def stats(api: StreamAPIProcess, project: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        response = await http.get("/v1/stats", headers={"Authorization": f"Bearer {token(project)}"})
    assert response.status_code == 200
    figures: dict[str, Any] = response.json()
    return figures


async def connected(reader: SSEReader) -> None:
    await reader.read_until(lambda ms: any(m.comment == "connected" for m in ms))


async def open_on(
    stack: contextlib.AsyncExitStack,
    api: StreamAPIProcess,
    worker: int,
    project: str,
    count: int,
    **headers: str,
) -> list[SSEReader]:
    """`count` SSE clients, every one served by `worker`."""
    readers = []
    with only(api, worker):
        for _ in range(count):
            reader = await stack.enter_async_context(sse(api.base, project, token(project), headers=headers))
            readers.append(reader)
    for reader in readers:
        await connected(reader)
    return readers


async def test_clients_on_both_workers_get_every_event_once_in_order(
    api: StreamAPIProcess, project: str
) -> None:
    first, second = api.worker_pids()
    async with contextlib.AsyncExitStack() as stack:
        readers = await open_on(stack, api, first, project, 6) + await open_on(stack, api, second, project, 6)
        assert tcp_connections(first, api.port) >= 6
        assert tcp_connections(second, api.port) >= 6
        await eventually(lambda: _open_streams(api, project, 12), timeout=10)
        cursors: list[str] = []
        for round_ in range(10):
            cursors += await publish(api, project, [event(project, n=round_ * 20 + i) for i in range(20)])
        for reader in readers:
            received = await reader.read_events(len(cursors), timeout=20)
            assert [m.id for m in received] == cursors  # every event, once, in order, on either worker

        figures = await scrape(api)
        assert figures["runwire_stream_deliveries_total{'transport': 'sse'}"] == 12 * len(cursors)
        assert figures["runwire_stream_events_in_total"] == len(cursors)  # both read it; counted once
        assert figures["runwire_stream_workers_expected"] == figures["runwire_stream_workers_answering"] == 2
        assert figures["runwire_nats_connected"] == 1
        latency_count = "runwire_delivery_latency_seconds_count{'project': '_all', 'transport': 'sse'}"
        assert figures[latency_count] == 12 * len(cursors)
        live = await stats(api, project)
        assert live["connections"]["sse"] == 12
        assert live["deliveries"]["sse"] == 12 * len(cursors)
        assert live["events_in"] == len(cursors)
        assert live["position"] == cursors[-1]
        assert live["latency"]["count"] == 12 * len(cursors)
        assert live["workers"] == {"expected": 2, "answering": 2}
        async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
            trace = await http.get(
                f"/v1/projects/{project}/events/{cursors[-1]}/trace",
                headers={"Authorization": f"Bearer {token(project)}"},
            )
        assert trace.status_code == 200
        assert trace.json()["recipients"] == 12  # counted over both workers
        assert trace.json()["first_delivered_at"] is not None


async def _open_streams(api: StreamAPIProcess, project: str, count: int) -> bool:
    return bool((await stats(api, project))["connections"]["sse"] == count)


async def test_a_client_resumes_with_last_event_id_on_the_other_worker(
    api: StreamAPIProcess, project: str
) -> None:
    first, second = api.worker_pids()
    cursors = await publish(api, project, [event(project, n=i) for i in range(10)])
    async with contextlib.AsyncExitStack() as stack:
        (reader,) = await open_on(stack, api, first, project, 1, **{"Last-Event-ID": cursors[0]})
        assert [m.id for m in await reader.read_events(9)] == cursors[1:]
    cursors += await publish(api, project, [event(project, n=10 + i) for i in range(10)])
    async with contextlib.AsyncExitStack() as stack:
        (reader,) = await open_on(stack, api, second, project, 1, **{"Last-Event-ID": cursors[9]})
        assert tcp_connections(second, api.port) == 1
        assert [m.id for m in await reader.read_events(10)] == cursors[10:]


async def test_a_slow_client_falls_back_to_catch_up_and_misses_nothing(
    nats_url: str, tmp_path: Path, project: str
) -> None:
    server = StreamAPIProcess(
        nats_url, SECRET, tmp_path / "stream-api.log", workers=2, RUNWIRE_CLIENT_QUEUE_EVENTS="32"
    )
    try:
        await server.start()
        slow = await RawSSE.connect(server.base, f"/v1/projects/{project}/events/stream", token(project))
        try:
            blob = "x" * 8192
            cursors: list[str] = []
            for round_ in range(20):
                cursors += await publish(
                    server, project, [event(project, n=round_ * 50 + i, blob=blob) for i in range(50)]
                )
            await eventually(lambda: _catch_ups(server), timeout=20)
            ids = await slow.read_ids(len(cursors), timeout=30)
        finally:
            slow.close()
        assert len(ids) == len(cursors) == len(set(ids))
    finally:
        server.close()


async def _catch_ups(api: StreamAPIProcess) -> bool:
    return (await scrape(api))["runwire_stream_catch_ups_total{'transport': 'sse'}"] >= 1


async def test_readyz_needs_every_worker_and_metrics_leave_a_silent_one_out(
    api: StreamAPIProcess, project: str
) -> None:
    first, _ = api.worker_pids()
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["workers"] == 2
    with only(api, first):  # the other one is stopped: it cannot answer its sibling
        async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:  # a new connection
            not_ready = await http.get("/readyz")
        figures = await scrape(api)
        live = await stats(api, project)
    assert not_ready.status_code == 503
    assert not_ready.headers["retry-after"] == "1"
    assert not_ready.json()["detail"] == "1 of 2 workers are not ready: 1 not answering"
    assert figures["runwire_stream_workers_answering"] == 1
    assert figures["runwire_stream_workers_expected"] == 2
    assert live["workers"] == {"expected": 2, "answering": 1}


async def test_sigterm_closes_the_streams_of_every_worker_and_the_parent_exits_0(
    api: StreamAPIProcess, project: str
) -> None:
    workers = api.worker_pids()
    async with contextlib.AsyncExitStack() as stack:
        readers = [reader for pid in workers for reader in await open_on(stack, api, pid, project, 2)]
        assert api.process is not None
        api.process.send_signal(signal.SIGTERM)
        for reader in readers:
            messages = await reader.read_to_end(timeout=10)
            assert messages[-1].event == "close"
        assert await asyncio.to_thread(api.process.wait, 15) == 0
    assert [pid for pid in workers if alive(pid)] == []


async def test_a_killed_worker_is_forked_again_and_its_clients_resume_losing_nothing(
    api: StreamAPIProcess, project: str
) -> None:
    victim, survivor = api.worker_pids()
    cursors = await publish(api, project, [event(project, n=i) for i in range(5)])
    async with contextlib.AsyncExitStack() as stack:
        (reader,) = await open_on(stack, api, victim, project, 1)
        cursors += await publish(api, project, [event(project, n=5 + i) for i in range(5)])
        await reader.read_events(5)
        os.kill(victim, signal.SIGKILL)
        with contextlib.suppress(httpx.HTTPError):
            await reader.read_to_end(timeout=10)  # the connection breaks without a goodbye
        seen = [str(m.id) for m in events_of(reader.messages)]
    cursors += await publish(api, project, [event(project, n=10 + i) for i in range(5)])
    async with sse(api.base, project, token(project), headers={"Last-Event-ID": seen[-1]}) as resumed:
        rest = [m.id for m in await resumed.read_events(len(cursors) - 10)]
    assert seen + rest == cursors[5:]

    def healed() -> bool:
        pids = api.worker_pids()
        return len(pids) == 2 and survivor in pids and victim not in pids

    await eventually(healed, timeout=15, failure=api.log_text)
    assert f"(pid {victim}) was killed by SIGKILL; forking it again in 1s" in api.log_text()
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        await eventually(lambda: _ready(http), timeout=15, failure=api.log_text)


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200


async def test_the_workers_end_when_the_parent_is_killed(api: StreamAPIProcess, project: str) -> None:
    workers = api.worker_pids()
    async with contextlib.AsyncExitStack() as stack:
        readers = [reader for pid in workers for reader in await open_on(stack, api, pid, project, 1)]
        assert api.process is not None
        api.process.kill()
        for reader in readers:
            assert (await reader.read_to_end(timeout=10))[-1].event == "close"  # they drain, too
    await eventually(lambda: not any(alive(pid) for pid in workers), timeout=15)


async def test_each_worker_takes_its_share_of_the_connection_limit(
    nats_url: str, tmp_path: Path, project: str
) -> None:
    server = StreamAPIProcess(
        nats_url, SECRET, tmp_path / "stream-api.log", workers=2, RUNWIRE_MAX_CONNECTIONS="3"
    )
    try:
        await server.start()
        first, _ = server.worker_pids()
        async with contextlib.AsyncExitStack() as stack:
            readers = await open_on(stack, server, first, project, 2)  # ceil(3 / 2)
            with only(server, first):
                async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
                    refused = await http.get(
                        f"/v1/projects/{project}/events/stream",
                        headers={"Authorization": f"Bearer {token(project)}"},
                    )
            assert all(reader.messages for reader in readers)  # (held: a reader dropped closes its stream)
        assert refused.status_code == 503
        assert refused.json()["type"] == "urn:runwire:problem:too-many-connections"
        assert refused.headers["retry-after"] == "5"
    finally:
        server.close()
