"""The embedded nats-server: starts with JetStream on loopback, stops leaving no process."""

from __future__ import annotations

import os
from pathlib import Path

import nats
import pytest

from runwire.jetstream.embedded_nats import EmbeddedNats, EmbeddedNatsError


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_starts_with_jetstream_on_a_free_loopback_port(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path) as server:
        assert server.url.startswith("nats://127.0.0.1:")
        nc = await nats.connect(server.url)
        try:
            info = await nc.jetstream().account_info()
            assert info.limits is not None
        finally:
            await nc.close()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path)
    server.start()
    pid = server.pid
    assert pid is not None and alive(pid)
    server.stop()
    assert not alive(pid)


async def test_data_survives_a_restart_on_the_same_port(tmp_path: Path) -> None:
    first = EmbeddedNats(tmp_path)
    first.start()
    port = first.port
    nc = await nats.connect(first.url)
    js = nc.jetstream()
    await js.add_stream(name="KEEP", subjects=["keep.>"])
    await js.publish("keep.one", b"1")
    await nc.close()
    first.kill()
    second = EmbeddedNats(tmp_path, port=port or -1)
    second.start()
    try:
        nc = await nats.connect(second.url)
        info = await nc.jetstream().stream_info("KEEP")
        assert info.state.messages == 1
        await nc.close()
    finally:
        second.stop()


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "a") as first:
        second = EmbeddedNats(tmp_path / "b", port=first.port or -1)
        with pytest.raises(EmbeddedNatsError, match="exited at start"):
            second.start(timeout=10)
