"""`make run` from this checkout: everything answers, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.eventually import eventually
from tests.support.ports import free_port_block

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
async def test_make_run_serves_readyz_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port_block(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    env |= {"RUNWIRE_DATA_DIR": str(tmp_path / "data"), "RUNWIRE_HTTP_PORT": str(port)}
    log = (tmp_path / "run.log").open("w+")

    def run_log() -> str:
        return Path(log.name).read_text()

    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60

        async def ready(http: httpx.AsyncClient) -> bool:
            assert make.poll() is None, run_log()
            try:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        async with httpx.AsyncClient(timeout=1) as http:
            await eventually(lambda: ready(http), timeout=60, failure=run_log)
        # The banner follows readiness of every service; both within the same minute.
        await eventually(
            lambda: "Ctrl-C stops everything" in run_log(),
            timeout=max(deadline - time.monotonic(), 0),
            failure=run_log,
        )
        processes = descendants(make.pid)
        assert len(processes) >= 3  # the supervisor, nats-server, the stream API
        banner = run_log()
        assert f"http://127.0.0.1:{port}" in banner
        assert "nats://127.0.0.1:" in banner
        assert "dev token" in banner
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        await asyncio.to_thread(make.wait, 30)
        assert [pid for pid in processes if alive(pid)] == []
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        log.close()
