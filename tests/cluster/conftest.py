"""A 3-node JetStream cluster per test module (started once: elections take seconds)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from runwire.jetstream.connection import RunwireNATS, connect_nats
from tests.support.nats_cluster import NatsCluster, nats_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    with nats_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture
async def cluster_nc(cluster: NatsCluster) -> AsyncIterator[RunwireNATS]:
    await cluster.ready()
    nc = await connect_nats(cluster.urls, "cluster-test")
    try:
        yield nc
    finally:
        await nc.close()
