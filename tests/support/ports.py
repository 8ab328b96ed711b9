"""Free loopback ports for the servers tests start: never a fixed port, never 4222 or 8000."""

from __future__ import annotations

import random
import socket

from runwire.jetstream.nats_port import free_port as free_port_on
from runwire.jetstream.nats_port import port_free


def free_port() -> int:
    """One port free on 127.0.0.1 now."""
    return free_port_on("127.0.0.1")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (held open together so that none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port_block(size: int) -> int:
    """A base port with `size` free consecutive ports after it (services take consecutive ports),
    below the ephemeral range: a probe of a port nobody listens on yet could otherwise be given that
    very port as its source and connect to itself."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000)
        if all(port_free("127.0.0.1", port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no free port block")
