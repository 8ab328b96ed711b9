"""Node and npm for the JavaScript client's tests: Debian's `nodejs` (>= 18) on PATH, or a skip that
CI turns into a failure with RUNWIRE_REQUIRE_NODE=1 (.ci/run installs the package when missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "clients" / "js"
MIN_MAJOR = 18


def _missing(reason: str) -> None:
    if os.environ.get("RUNWIRE_REQUIRE_NODE") == "1":
        pytest.fail(f"RUNWIRE_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def node_binary() -> str:
    """The `node` executable, at least MIN_MAJOR."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        _missing("`node` is missing: install Debian's `nodejs` package (.ci/run does)")
        raise AssertionError  # unreachable: skip and fail raise
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < MIN_MAJOR:
        _missing(f"node {version.strip()} is older than {MIN_MAJOR}")
    return node


def npm_binary() -> str:
    """The `npm` executable (Debian's `npm` package)."""
    node_binary()
    npm = shutil.which("npm")
    if npm is None:
        _missing("`npm` is missing: install Debian's `npm` package (.ci/run does)")
        raise AssertionError
    return npm
