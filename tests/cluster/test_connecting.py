"""Connecting to a cluster through RUNWIRE_NATS_URL's list when its first server is down."""

from __future__ import annotations

import asyncio

from runwire.jetstream.connection import connect_nats
from tests.support.nats_cluster import NatsCluster
from tests.support.ports import free_ports


async def test_a_connection_uses_a_later_server_when_the_first_is_down(cluster: NatsCluster) -> None:
    await cluster.ready()
    [unused] = free_ports(1)
    nc = await asyncio.wait_for(connect_nats([f"nats://127.0.0.1:{unused}", *cluster.urls], "t"), 20)
    try:
        assert nc.is_connected
        assert nc.connected_url is not None
        assert nc.connected_url.port in {node.client_port for node in cluster.nodes}
    finally:
        await nc.close()
