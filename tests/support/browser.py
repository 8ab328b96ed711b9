"""What the browser tests need: Debian's Chromium (never a Playwright download) and npm packages
installed once with `npm ci` from a lock file, cached outside the tree, then offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PACKAGES = Path(__file__).resolve().parents[1] / "browser"


def _missing(reason: str) -> None:
    """Skip, or fail when CI says a browser test must run (RUNWIRE_REQUIRE_BROWSER=1)."""
    if os.environ.get("RUNWIRE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"RUNWIRE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: install Debian's `chromium` package (.ci/run does)")
    return CHROMIUM


def browser_packages() -> Path:
    """tests/browser's node_modules, installed with `npm ci` once per lock file version."""
    lock = (PACKAGES / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = cache / "runwire" / "browser-tests" / hashlib.sha256(lock).hexdigest()[:16]
    modules = target / "node_modules"
    if (target / ".installed").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is missing: install Debian's `npm` package (.ci/run does)")
        raise AssertionError("unreachable")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGES / name, target / name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        _missing(f"npm ci in {target} failed: {result.stderr[-2000:]}")
    (target / ".installed").touch()
    return modules
