"""The embedded nats-server's port: chosen once, remembered in the data directory, reused after."""

from __future__ import annotations

import socket
from pathlib import Path

from runwire.jetstream.nats_port import free_port, nats_port, port_file


def test_the_preferred_port_is_taken_and_remembered_when_free(tmp_path: Path) -> None:
    preferred = free_port("127.0.0.1")
    assert nats_port(tmp_path, preferred=preferred) == preferred
    assert port_file(tmp_path).read_text() == f"{preferred}\n"


def test_a_busy_preferred_port_gives_a_free_port_that_is_remembered(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        chosen = nats_port(tmp_path, preferred=taken)
    assert chosen != taken
    assert nats_port(tmp_path, preferred=free_port("127.0.0.1")) == chosen


def test_the_remembered_port_is_reused_even_when_the_preferred_one_is_free(tmp_path: Path) -> None:
    port_file(tmp_path).write_text("24333\n")
    assert nats_port(tmp_path, preferred=free_port("127.0.0.1")) == 24333


def test_a_file_that_holds_no_port_is_replaced_by_a_chosen_port(tmp_path: Path) -> None:
    port_file(tmp_path).write_text("not a port\n")
    preferred = free_port("127.0.0.1")
    assert nats_port(tmp_path, preferred=preferred) == preferred
    assert port_file(tmp_path).read_text() == f"{preferred}\n"
