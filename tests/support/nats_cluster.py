"""A real 3-node JetStream cluster on loopback for tests: three nats-server processes, free ports.

Each node can be killed (-9) and restarted on its own ports and store, as an operator would see a
node crash and come back. Only the processes started here are ever signalled, by their PIDs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import nats
from nats.aio.client import Client as NATS

from runwire.jetstream.embedded_nats import find_binary
from tests.support.ports import free_ports


@dataclass
class Node:
    """One cluster node: its name, client and route ports, store, and process while it runs."""

    name: str
    client_port: int
    route_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    monitor_port: int = 0
    """HTTP monitoring (`/jsz` names the JetStream meta leader); 0: none."""

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def config(self, routes: list[int]) -> str:
        route_urls = "\n    ".join(f"nats-route://127.0.0.1:{port}" for port in routes)
        return f"""
server_name: {self.name}
listen: 127.0.0.1:{self.client_port}
{f"http: 127.0.0.1:{self.monitor_port}" if self.monitor_port else ""}
jetstream {{
  store_dir: "{self.directory / "store"}"
}}
cluster {{
  name: runwire-test
  listen: 127.0.0.1:{self.route_port}
  routes: [
    {route_urls}
  ]
}}
"""


@dataclass
class NatsCluster:
    """Three nodes; `urls` lists them all, as RUNWIRE_NATS_URL does in a cluster."""

    nodes: list[Node]
    routes: list[int] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The comma-separated list, as RUNWIRE_NATS_URL takes it."""
        return ",".join(self.urls)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def start(self, node: Node) -> None:
        node.directory.mkdir(parents=True, exist_ok=True)
        conf = node.directory / "nats.conf"
        conf.write_text(node.config(self.routes))
        log = (node.directory / "nats-server.log").open("ab")
        node.process = subprocess.Popen([find_binary(), "-c", str(conf)], stdout=log, stderr=log)
        log.close()
        _wait_for_port(node.client_port, 10)

    def kill(self, node: Node) -> None:
        """kill -9 of one node (its files stay, as after a crash)."""
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
            node.process.wait(10)
        node.process = None

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(5)
            node.process = None

    async def stream_leader(self, stream: str, timeout: float = 30.0) -> Node:
        """The node that leads `stream` now (waits for an election to end)."""
        deadline = time.monotonic() + timeout
        while True:
            leader = await self._ask_leader(stream)
            if leader is not None:
                return self.node(leader)
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {stream} has no leader after {timeout}s")
            await asyncio.sleep(0.1)

    async def _ask_leader(self, stream: str) -> str | None:
        for node in self.nodes:
            if node.process is None:
                continue
            with contextlib.suppress(Exception):
                nc = await nats.connect(node.url, connect_timeout=1, allow_reconnect=False)
                try:
                    info = await nc.jetstream().stream_info(stream)
                finally:
                    await nc.close()
                leader = info.cluster.leader if info.cluster else None
                if leader:
                    return str(leader)
        return None

    async def settled(self, stream: str, timeout: float = 60.0) -> None:
        """Wait until every node answers and `stream` has a leader and every replica current (after a
        node came back, before the next kill)."""
        await self.ready(timeout)
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                with contextlib.suppress(Exception):
                    nc = await nats.connect(node.url, connect_timeout=1, allow_reconnect=False)
                    try:
                        info = await nc.jetstream().stream_info(stream)
                    finally:
                        await nc.close()
                    replicas = info.cluster.replicas if info.cluster and info.cluster.leader else None
                    if replicas and len(replicas) == len(self.nodes) - 1 and all(r.current for r in replicas):
                        return
                    break  # one node's view is enough
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {stream} not settled after {timeout}s")
            await asyncio.sleep(0.2)

    async def consumer_node(self, nc: NATS, stream: str, consumer: str) -> Node:
        """The node holding `consumer` (its CONSUMER.INFO `cluster.leader`), asked through `nc`."""
        reply = await nc.request(f"$JS.API.CONSUMER.INFO.{stream}.{consumer}", b"", timeout=5)
        leader = (json.loads(reply.data).get("cluster") or {}).get("leader")
        if not leader:
            raise AssertionError(f"consumer {consumer} has no leader: {reply.data!r}")
        return self.node(str(leader))

    async def meta_leader(self, timeout: float = 30.0) -> Node:
        """The node that leads the JetStream meta group now (it places every consumer)."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.process is None or not node.monitor_port:
                    continue
                with contextlib.suppress(OSError, ValueError):
                    url = f"http://127.0.0.1:{node.monitor_port}/jsz"
                    jsz = await asyncio.to_thread(_get_json, url)
                    leader = (jsz.get("meta_cluster") or {}).get("leader")
                    if leader:
                        return self.node(str(leader))
            if time.monotonic() > deadline:
                raise AssertionError(f"no JetStream meta leader after {timeout}s")
            await asyncio.sleep(0.1)

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until JetStream answers through every running node (the meta leader is elected)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.process is None:
                continue
            while True:
                with contextlib.suppress(Exception):
                    nc = await nats.connect(node.url, connect_timeout=1, allow_reconnect=False)
                    try:
                        await nc.jetstream().account_info()
                        break
                    finally:
                        await nc.close()
                if time.monotonic() > deadline:
                    raise AssertionError(f"JetStream not ready on {node.name} after {timeout}s")
                await asyncio.sleep(0.2)


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return cast(dict[str, Any], json.load(response))


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nats-server did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def nats_cluster(directory: Path) -> Iterator[NatsCluster]:
    """Start three JetStream nodes forming one cluster; all stopped (by PID) on exit."""
    ports = free_ports(9)
    nodes = [
        Node(
            f"n{index + 1}",
            ports[index],
            ports[3 + index],
            directory / f"n{index + 1}",
            monitor_port=ports[6 + index],
        )
        for index in range(3)
    ]
    cluster = NatsCluster(nodes, routes=[node.route_port for node in nodes])
    try:
        for node in nodes:
            cluster.start(node)
        yield cluster
    finally:
        cluster.stop_all()
