"""`make cluster`'s three nats-server nodes on loopback, from infra/nats/local-cluster.conf.

Each node's client and route ports are chosen once (4231-4233 and 6231-6233 when free) and kept
under `<data dir>/cluster/`, so a restarted node, and the next `make cluster`, use the same ones.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runwire.jetstream.embedded_nats import EmbeddedNatsError, find_binary
from runwire.jetstream.nats_port import nats_port
from runwire_dev.popen_child import PopenChild

NODES: Final = 3
CONFIG: Final = Path(__file__).resolve().parents[2] / "infra" / "nats" / "local-cluster.conf"
CLIENT_PORTS: Final = 4230
ROUTE_PORTS: Final = 6230
START_SECONDS: Final = 15.0


@dataclass
class ClusterNode:
    """One node: its name, remembered ports and store."""

    name: str
    directory: Path
    client_port: int
    route_port: int

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"


def cluster_nodes(data_dir: Path) -> list[ClusterNode]:
    """The three nodes of the local cluster, with their ports chosen once and remembered."""
    nodes = []
    for index in range(1, NODES + 1):
        directory = data_dir / "cluster" / f"n{index}"
        client = nats_port(directory, preferred=CLIENT_PORTS + index)
        route = nats_port(directory / "route", preferred=ROUTE_PORTS + index)
        nodes.append(ClusterNode(f"n{index}", directory, client, route))
    return nodes


class ClusterNodeProcess(PopenChild):
    """A cluster node as a supervised child: nats-server with the shared config and its own environment."""

    def __init__(self, node: ClusterNode, routes: list[int]) -> None:
        self.node = node
        self.name = f"nats-{node.name}"
        self.routes = routes
        self.process = None

    def start(self) -> None:
        if not CONFIG.is_file():
            raise EmbeddedNatsError(f"{CONFIG} is missing: `make cluster` runs from a runwire checkout")
        node = self.node
        env = {
            **os.environ,
            "RUNWIRE_NATS_NAME": node.name,
            "RUNWIRE_NATS_PORT": str(node.client_port),
            "RUNWIRE_NATS_CLUSTER_PORT": str(node.route_port),
            "RUNWIRE_NATS_STORE": str(node.directory / "store"),
            **{
                f"RUNWIRE_NATS_ROUTE_{i}": f"nats-route://127.0.0.1:{port}"
                for i, port in enumerate(self.routes, 1)
            },
        }
        node.directory.mkdir(parents=True, exist_ok=True)
        with (node.directory / "nats-server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [find_binary(), "-c", str(CONFIG)], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedNatsError(
                    f"{self.name} exited at start; see {node.directory / 'nats-server.log'}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", node.client_port), 0.5):
                return
            time.sleep(0.05)
        raise EmbeddedNatsError(f"{self.name} did not listen on {node.client_port} within {START_SECONDS:g}s")
