"""Fixtures shared by the whole suite: a real nats-server per session, isolation per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client as NATS

from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, StreamSettings
from tests.support.nats_server import nats_server


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real JetStream server for the session; tests isolate themselves by project."""
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    connection = await connect_nats([nats_url], "runwire-tests")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def store(nc: NATS) -> EventStore:
    event_store = EventStore(nc)
    await event_store.ensure_stream(StreamSettings(dedup_window_seconds=120))
    return event_store


@pytest.fixture
def project() -> str:
    """A project id no other test uses: the per-test isolation on the shared stream."""
    return f"t-{uuid.uuid4().hex[:12]}"
