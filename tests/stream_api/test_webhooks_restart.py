"""kill -9 of the stream API in the middle of a webhook's delivery: a new process carries on from
the last event the receiver acknowledged, skipping nothing (at least once: the event in flight
may arrive twice)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runwire.web.auth import issue_token
from tests.stream_api.conftest import SECRET, event
from tests.support.eventually import eventually
from tests.support.ports import free_port
from tests.support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def api_process(nats_url: str, log_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m runwire_stream_api` on a free port, allowed to call the loopback receiver."""
    port = free_port()
    env = {
        **os.environ,
        "RUNWIRE_NATS_URL": nats_url,
        "RUNWIRE_AUTH_SECRET": SECRET,
        "RUNWIRE_HTTP_PORT": str(port),
        "RUNWIRE_WEBHOOKS_ALLOW_PRIVATE": "1",
        "RUNWIRE_LEASE_SECONDS": "1",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runwire_stream_api"], env=env, stdout=log, stderr=log
        )
        try:
            yield process, f"http://127.0.0.1:{port}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def ready(http: httpx.AsyncClient, base: str) -> bool:
    try:
        return (await http.get(base + "/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_kill_9_mid_delivery_resumes_without_gap(nats_url: str, project: str, tmp_path: Path) -> None:
    log_path = tmp_path / "stream-api.log"
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'tester', [project])}"}
    events = [event(project, n=n) for n in range(60)]
    expected = [e["id"] for e in events]
    async with webhook_receiver() as receiver, httpx.AsyncClient(timeout=10, headers=headers) as http:
        receiver.delay = 0.02  # a slow receiver, so the kill lands mid-delivery
        with api_process(nats_url, log_path) as (first, base):
            await eventually(lambda: ready(http, base), timeout=30, failure=log_path.read_text)
            created = await http.post(f"{base}/v1/projects/{project}/webhooks", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            hook = created.json()
            published = await http.post(f"{base}/v1/projects/{project}/events", json=events)
            assert published.status_code == 202, published.text
            await eventually(lambda: len(receiver.requests) >= 15, timeout=30)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        seen_at_kill = len(receiver.requests)
        assert seen_at_kill < len(expected), "the delivery finished before the kill: nothing was tested"
        with api_process(nats_url, log_path) as (_, base):
            await eventually(lambda: ready(http, base), timeout=30, failure=log_path.read_text)

            def ids() -> list[str]:
                return [json.loads(r.body)["id"] for r in receiver.requests]

            def complete() -> bool:
                return list(dict.fromkeys(ids())) == expected

            await eventually(complete, timeout=60)
            received = ids()
            # In order, nothing skipped; at most the event in flight at the kill arrives twice.
            assert len(received) - len(expected) <= 1
            assert list(dict.fromkeys(received)) == expected
            status = (await http.get(f"{base}/v1/projects/{project}/webhooks/{hook['id']}")).json()["status"]
            assert status["consecutive_failures"] == 0
        assert hook["secret"] not in log_path.read_text()
