"""The npm package's own tests (`node --test clients/js/test/`) against a real nats-server and a
stream API process that they stop, kill and restart through a small harness (harness.py).

The stream keeps at most MAX_MSGS messages, on a nats-server of its own, so that the reset test
can push a cursor out of retention without touching the session's shared stream.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from runwire.jetstream.connection import connect_nats
from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore
from runwire.web.auth import issue_token
from tests.js_client.harness import harness_app
from tests.js_client.node import PACKAGE_DIR, node_binary
from tests.support.http_server import serving
from tests.support.stream_api_process import StreamAPIProcess

SECRET = "js-client-test-secret-0123456789abcdef"
MAX_MSGS = 300
NODE_TIMEOUT_SECONDS = 150


@pytest.fixture
async def stream_api(tmp_path: Path) -> AsyncIterator[StreamAPIProcess]:
    """A stream API process on its own nats-server, whose stream keeps MAX_MSGS messages."""
    with EmbeddedNats(tmp_path / "nats") as server:
        api = StreamAPIProcess(
            server.url,
            SECRET,
            tmp_path / "stream-api.log",
            RUNWIRE_HEARTBEAT_SECONDS="1",
            RUNWIRE_STREAM_MAX_MSGS=str(MAX_MSGS),
        )
        try:
            await api.start()
            yield api
        finally:
            api.close()


@pytest.fixture
async def own_nc(stream_api: StreamAPIProcess) -> AsyncIterator[NATS]:
    nc = await connect_nats([stream_api.env["RUNWIRE_NATS_URL"]], "js-client-harness")
    try:
        yield nc
    finally:
        await nc.close()


@pytest.mark.timeout(NODE_TIMEOUT_SECONDS + 30)
async def test_node_suite_passes_against_a_real_server(stream_api: StreamAPIProcess, own_nc: NATS) -> None:
    node = node_binary()
    harness = harness_app(stream_api, EventStore(own_nc), SECRET)
    async with serving(harness) as control:
        env = {
            **os.environ,
            "RUNWIRE_URL": stream_api.base,
            "RUNWIRE_TOKEN": issue_token(SECRET, "js-client-test", "*"),
            "RUNWIRE_TEST_CONTROL": control,
            "RUNWIRE_TEST_MAX_MSGS": str(MAX_MSGS),
        }
        tests = sorted(str(path) for path in (PACKAGE_DIR / "test").glob("*.test.js"))
        process = await asyncio.create_subprocess_exec(
            node,
            "--test",
            "--test-reporter=tap",
            *tests,
            cwd=PACKAGE_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), NODE_TIMEOUT_SECONDS)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    report = output.decode(errors="replace")
    failure = f"{report}\n--- stream API log ---\n{stream_api.log_text()}"
    assert process.returncode == 0, failure
    counts = {
        name: int(n) for name, n in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", report, re.M)
    }
    assert counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, failure
    assert counts["pass"] >= 13, failure
