"""`make demo` started together with `make run` waits for every service instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.running_system import ROOT, running_system
from tests.support.eventually import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


async def test_make_demo_started_as_soon_as_the_stream_api_answers_completes(tmp_path: Path) -> None:
    with running_system(tmp_path) as system:

        async def stream_api_answers() -> bool | None:
            return True if await system.ready("stream-api") else None

        await eventually(stream_api_answers, timeout=30)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
        environment |= {"RUNWIRE_DATA_DIR": str(system.data_dir), "RUNWIRE_HTTP_PORT": str(system.http_port)}
        demo = subprocess.run(
            [sys.executable, "-m", "runwire_dev.demo"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=45,
        )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert demo.stdout.splitlines()[-1].startswith("project=demo-")
