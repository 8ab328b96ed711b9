"""`make run` heals itself: a child that dies (kill -9, or exit status 0) is started again on its own,
with one log line, and the embedded nats-server comes back on the same port.

Each test prints how long the healing took (run with `-s` to see the figures)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from tests.faults.running_system import SERVICES, RunningSystem
from tests.support.eventually import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


async def restarted(system: RunningSystem, name: str, old_pid: int, timeout: float) -> float:
    """Seconds until `name` runs as a new process and answers /readyz 200 (fails after `timeout`)."""
    started = time.monotonic()

    async def probe() -> bool | None:
        new_pid = system.pids().get(name)
        return True if new_pid not in (None, old_pid) and await system.ready(name) else None

    await eventually(probe, timeout)
    return time.monotonic() - started


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_killed_with_sigkill_answers_ready_again_within_5_s(
    system: RunningSystem, service: str
) -> None:
    pid = system.pids()[service]
    os.kill(pid, signal.SIGKILL)
    seconds = await restarted(system, service, pid, timeout=5)
    print(f"\n{service}: kill -9 -> /readyz 200 in {seconds:.2f} s")
    assert seconds <= 5


async def test_a_restart_is_logged_once_with_the_child_its_exit_and_the_delay(system: RunningSystem) -> None:
    pid = system.pids()["workflow"]
    os.kill(pid, signal.SIGKILL)
    await restarted(system, "workflow", pid, timeout=10)
    about = [line for line in system.supervisor_lines() if f"(pid {pid})" in line]
    assert about == [f"runwire: workflow (pid {pid}) was killed by SIGKILL; restarting in 1s"]


async def test_a_service_that_exits_with_status_0_is_restarted(system: RunningSystem) -> None:
    pid = system.pids()["agent"]
    os.kill(pid, signal.SIGTERM)  # a service's own graceful stop: it ends with status 0
    await restarted(system, "agent", pid, timeout=10)
    assert f"runwire: agent (pid {pid}) exited with status 0; restarting in 1s" in system.supervisor_lines()


async def test_the_other_services_keep_running_while_one_restarts(system: RunningSystem) -> None:
    before = system.pids()
    os.kill(before["ingest"], signal.SIGKILL)
    await restarted(system, "ingest", before["ingest"], timeout=10)
    after = system.pids()
    assert {name: after[name] for name in after if name != "ingest"} == {
        name: before[name] for name in before if name != "ingest"
    }


async def test_a_killed_nats_server_comes_back_on_its_port_with_every_service_ready_within_10_s(
    system: RunningSystem,
) -> None:
    port = system.nats_port()
    pid = system.pids()["nats-server"]
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    async def healed() -> bool | None:
        new_pid = system.pids().get("nats-server")
        return True if new_pid not in (None, pid) and await system.all_ready() else None

    await eventually(healed, timeout=10)
    seconds = time.monotonic() - killed_at
    print(f"\nnats-server: kill -9 -> every /readyz 200 in {seconds:.2f} s")
    assert seconds <= 10
    assert system.nats_port() == port
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        assert connection.recv(5) == b"INFO "
