"""A real nats-server for tests: testcontainers when a Docker engine answers, else the embedded binary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from runwire.jetstream.embedded_nats import EmbeddedNats


def docker_engine_answers() -> bool:
    """Whether a Docker engine is reachable (the client alone is not enough)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:
        return False


@contextlib.contextmanager
def nats_server(data_dir: Path) -> Iterator[str]:
    """Yield the URL of a fresh JetStream-enabled nats-server, stopped on exit."""
    if docker_engine_answers():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer(image="nats:2.12-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    server = EmbeddedNats(data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
