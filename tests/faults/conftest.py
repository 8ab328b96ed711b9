"""A fresh `make run` per test: a test that kills children must not inherit another's backoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.running_system import RunningSystem, running_system, wait_for_banner


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RunningSystem]:
    """`python -m runwire_dev` with every service ready (its banner printed)."""
    with running_system(tmp_path) as running:
        wait_for_banner(running)
        yield running
