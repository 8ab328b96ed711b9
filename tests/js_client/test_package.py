"""The npm package as a user gets it: `npm pack` holds the module, its declarations and nothing
else; installed into a fresh project it imports in Node with no dependency, and the documented
usage type-checks with `tsc --strict` against its declarations (and misuse does not)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.js_client.node import PACKAGE_DIR, node_binary, npm_binary

PACKED = {
    "package.json",
    "README.md",
    "src/runwire-client.js",
    "src/runwire-client.d.ts",
    "src/sse-parser.js",
    "src/sse-parser.d.ts",
}


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_package_manifest_declares_no_runtime_dependency() -> None:
    manifest = json.loads((PACKAGE_DIR / "package.json").read_text())
    assert "dependencies" not in manifest and "peerDependencies" not in manifest
    assert manifest["type"] == "module"
    assert manifest["exports"]["."] == {
        "types": "./src/runwire-client.d.ts",
        "default": "./src/runwire-client.js",
    }


@pytest.mark.timeout(400)
def test_packed_package_installs_imports_and_type_checks(tmp_path: Path) -> None:
    node, npm = node_binary(), npm_binary()
    packed = json.loads(run(npm, "pack", "--json", "--pack-destination", str(tmp_path), cwd=PACKAGE_DIR))[0]
    assert {file["path"] for file in packed["files"]} == PACKED

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    lock = json.loads((PACKAGE_DIR / "package-lock.json").read_text())
    typescript = lock["packages"]["node_modules/typescript"]["version"]
    run(
        npm,
        "install",
        "--no-audit",
        "--no-fund",
        str(tmp_path / packed["filename"]),
        f"typescript@{typescript}",
        cwd=app,
    )

    exports = run(
        node,
        "--input-type=module",
        "-e",
        "import * as client from '@runwire/client'; import * as parser from '@runwire/client/sse-parser';"
        "console.log(JSON.stringify([Object.keys(client).sort(), Object.keys(parser)]))",
        cwd=app,
    )
    assert json.loads(exports) == [
        ["DEFAULT_BACKOFF", "RunwireStream", "StreamRefused", "backoffDelay", "cursorAfter"],
        ["SseParser"],
    ]

    for name in ("usage.ts", "tsconfig.json"):
        (app / name).write_text((PACKAGE_DIR / "test" / name).read_text())
    run(node, str(app / "node_modules" / "typescript" / "bin" / "tsc"), "-p", "tsconfig.json", cwd=app)
