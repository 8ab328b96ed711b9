"""The direction of imports (DESIGN.md "Layout"): layers, services that share only contracts, pure domains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_PACKAGES = ("nats", "litestar", "opentelemetry", "uvicorn")


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def loaded_io_packages(module: str) -> list[str]:
    """The I/O packages a fresh interpreter has loaded after importing `module` alone."""
    probe = (
        f"import sys, {module}; "
        f"print(','.join(p for p in {IO_PACKAGES!r} "
        "if any(m == p or m.startswith(p + '.') for m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return [name for name in result.stdout.strip().split(",") if name]


@pytest.mark.parametrize(
    "module",
    [
        "runwire.contract.envelope",
        "runwire.contract.domain_event",
        "runwire.contract.ingest",
        "runwire.contract.agent",
        "runwire_ingest.domain.decide",
        "runwire_ingest.domain.text",
        "runwire_agent.domain.decide",
        "runwire_workflow.domain.decide",
        "runwire_workflow.children",
    ],
)
def test_importing_the_contract_or_a_domain_loads_no_io(module: str) -> None:
    assert loaded_io_packages(module) == []
