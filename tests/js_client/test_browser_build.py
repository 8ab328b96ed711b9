"""The browser build: what the stream API serves at /static is, byte for byte, the npm package's
module, and the documented page example (docs/js-client.md) works in headless Chromium with it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from playwright.async_api import async_playwright

from runwire.contract.envelope import new_event
from runwire.ops.settings import Settings
from runwire.web.auth import issue_token
from runwire_stream_api.app import create_app
from tests.js_client.node import PACKAGE_DIR
from tests.support.http_server import serving

SECRET = "js-browser-test-secret-0123456789abcdef"
MODULES = ("runwire-client.js", "sse-parser.js")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]

# The example of docs/js-client.md, with `baseUrl` left to the page's origin; what the callbacks
# receive is kept on `window` for the test to read.
PAGE_SCRIPT = """async ({ project, token }) => {
  const { RunwireStream } = await import("/static/runwire-client.js");
  window.seen = { events: [], statuses: [] };
  window.stream = new RunwireStream({
    project,
    token,
    types: ["browser.step.*"],
    aggregates: ["run-42"],
    from: "latest",
    onEvent({ cursor, type, event, receivedAt }) {
      window.seen.events.push({ cursor, type, n: event.data.n, isDate: receivedAt instanceof Date });
    },
    onStatus(status) {
      window.seen.statuses.push(status);
    },
  });
}"""


@pytest.fixture
async def base(nats_url: str) -> AsyncIterator[str]:
    app = create_app(Settings(nats_url=nats_url, auth_secret=SECRET, heartbeat_seconds=1))
    async with serving(app) as url:
        yield url


async def test_static_modules_are_the_package_files(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for name in MODULES:
            response = await http.get(f"/static/{name}")
            assert response.status_code == 200
            assert "javascript" in response.headers["content-type"]
            assert response.content == (PACKAGE_DIR / "src" / name).read_bytes(), (
                f"/static/{name} differs from clients/js/src/{name}, its source: "
                f"cp clients/js/src/{name} services/stream-api/runwire_stream_api/dashboard/"
            )


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or skip (fail when CI says a browser is required) before anything starts."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: install Debian's `chromium` package (.ci/run does)"
    if os.environ.get("RUNWIRE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"RUNWIRE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


async def test_documented_page_example_runs_in_chromium(chromium: Path, base: str, project: str) -> None:
    token = issue_token(SECRET, "js-browser-test", [project])
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{base}/healthz")  # any page of the stream API's origin
            await page.evaluate(PAGE_SCRIPT, {"project": project, "token": token})
            await page.wait_for_function("window.seen.statuses.includes('open')", timeout=15_000)

            shapes = [
                ("browser.step.started", "run-42"),
                ("browser.other", "run-42"),
                ("browser.step.done", "run-1"),
            ]
            shapes.append(("browser.step.completed", "run-42"))
            events = [
                new_event(type=t, project=project, source="/test/browser", subject=a, data={"n": n})
                for n, (t, a) in enumerate(shapes)
            ]
            async with httpx.AsyncClient(base_url=base) as http:
                response = await http.post(
                    f"/v1/projects/{project}/events",
                    content=msgspec.json.encode(events),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
            assert response.status_code == 202, response.text
            cursors = [e["cursor"] for e in response.json()["events"]]

            await page.wait_for_function("window.seen.events.length >= 2", timeout=15_000)
            await page.evaluate("window.stream.close()")
            seen = await page.evaluate("window.seen")
        finally:
            await browser.close()
    assert seen["events"] == [
        {"cursor": cursors[0], "type": "browser.step.started", "n": 0, "isDate": True},
        {"cursor": cursors[3], "type": "browser.step.completed", "n": 3, "isDate": True},
    ]
    assert seen["statuses"] == ["connecting", "open", "closed"]
    assert errors == []
