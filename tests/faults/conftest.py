"""A fresh `make run` per test: a test that kills children must not inherit another's backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.running_system import RunningSystem, running_system, wait_for_banner


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[RunningSystem]:
    """`python -m runwire_dev` with every service ready (its banner printed)."""
    with running_system(tmp_path) as running:
        await wait_for_banner(running)
        yield running
