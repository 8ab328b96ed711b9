"""The embedded nats-server's port, chosen once and remembered in the data directory.

Producers that publish straight to NATS keep its address in their configuration, so the port
must survive a restart of the server and the next `make run`, even when 4222 was taken.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Final

DEFAULT_NATS_PORT: Final = 4222
PORT_FILE: Final = "nats.port"


def port_file(data_dir: Path) -> Path:
    """Where the chosen port is kept: `<data dir>/nats.port`, one line with the number."""
    return data_dir / PORT_FILE


def port_free(host: str, port: int) -> bool:
    """Whether `port` can be bound on `host` now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    """A port the system has free on `host` now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def read_remembered(data_dir: Path) -> int | None:
    """The remembered port, or None when there is none (or the file does not hold a port)."""
    try:
        port = int(port_file(data_dir).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return port if 1 <= port <= 65535 else None


def nats_port(data_dir: Path, host: str = "127.0.0.1", preferred: int = DEFAULT_NATS_PORT) -> int:
    """The remembered port; else `preferred` if free, else a free one, remembered from now on."""
    remembered = read_remembered(data_dir)
    if remembered is not None:
        return remembered
    port = preferred if port_free(host, preferred) else free_port(host)
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file(data_dir).write_text(f"{port}\n")
    return port
