"""The live dashboard in headless Chromium, against a real stream API process that is restarted.

Debian's `chromium` is driven through Playwright's own protocol client (never `playwright install`):
the page must load with a token, show events published after it opened, show latency figures,
resume across a restart of the stream API without a gap or a duplicate, and show the trace
breakdown of a clicked event. The screenshot is kept in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from playwright.async_api import ConsoleMessage, Page, async_playwright, expect

from runwire.contract.envelope import new_event
from runwire.jetstream.event_store import EventStore
from runwire.web.auth import issue_token
from tests.support.browser import CHROMIUM_ARGS, require_chromium
from tests.support.eventually import eventually
from tests.support.stream_api_process import StreamAPIProcess

SECRET = "dashboard-test-secret-0123456789abcdef"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
A_DURATION = re.compile(r"^\d+(\.\d+)? (µs|ms|s)$")


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or skip (fail when CI says a browser is required) before anything starts."""
    return require_chromium()


@pytest.fixture
async def stream_api(nats_url: str, tmp_path: Path) -> AsyncIterator[StreamAPIProcess]:
    server = StreamAPIProcess(nats_url, SECRET, tmp_path / "stream-api.log", RUNWIRE_HEARTBEAT_SECONDS="1")
    await server.start()
    try:
        yield server
    finally:
        server.close()


def cloud_event(project: str, n: int, **extra: Any) -> Any:
    return new_event(
        type=f"dashboard.step.{'completed' if n % 2 else 'started'}",
        project=project,
        source="/test/dashboard",
        subject=f"run-{n % 3}",
        data={"n": n},
        **extra,
    )


async def publish_http(base: str, token: str, project: str, events: list[Any]) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post(
            f"/v1/projects/{project}/events",
            content=msgspec.json.encode(events),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text
    return [e["cursor"] for e in response.json()["events"]]


async def shown_cursors(page: Page) -> list[str]:
    cursors: list[str] = await page.locator("#event-rows tr").evaluate_all(
        "rows => rows.map(row => row.dataset.cursor)"
    )
    return cursors


async def wait_for_rows(page: Page, count: int) -> None:
    await page.wait_for_function(
        "n => document.querySelectorAll('#event-rows tr').length >= n", arg=count, timeout=20_000
    )


async def live_tail_reached(base: str, token: str) -> None:
    """Wait until the page's stream has caught up and joined the live fan-out, whose deliveries
    are the ones a trace times."""
    stats: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:

        async def live() -> bool:
            nonlocal stats
            stats = (await http.get("/v1/stats", headers={"Authorization": f"Bearer {token}"})).json()
            return bool(stats["connections"]["sse"] == 1 and stats["catch_up_clients"] == 0)

        await eventually(live, timeout=10, failure=lambda: f"the page's stream is still catching up: {stats}")


async def test_dashboard_live_restart_and_trace(
    chromium: Path, stream_api: StreamAPIProcess, store: EventStore, project: str
) -> None:
    token = issue_token(SECRET, "dashboard-test", [project])
    script_errors: list[str] = []
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.on("console", on_console)

            # Opens with the token from the URL, which the page moves out of the URL; the token's
            # only project becomes the filter.
            await page.goto(f"{stream_api.base}/?access_token={token}")
            await expect(page.locator("#connection")).to_have_text(f"Live · {project}")
            assert "access_token" not in page.url
            await expect(page.locator("#filters input[name=project]")).to_have_value(project)

            # Events published after the page opened appear, newest on top.
            expected = await publish_http(
                stream_api.base, token, project, [cloud_event(project, n) for n in range(5)]
            )
            await wait_for_rows(page, 5)
            assert await shown_cursors(page) == expected[::-1]
            first = page.locator("#event-rows tr").first
            await expect(first.locator("td.type")).to_have_text("dashboard.step.started")
            await expect(first.locator("td.aggregate")).to_have_text("run-1")

            # The instance's figures and latency percentiles, polled every 2 s.
            for name in ("p50", "p95", "p99"):
                await expect(page.locator(f"[data-latency={name}]")).to_have_text(A_DURATION, timeout=10_000)
            await expect(page.locator("[data-stat='connections.sse']")).to_have_text("1")
            assert await page.locator("#latency-chart path.line.p99").get_attribute("d")
            assert console_errors == []

            # Restart: events published while the stream API is down (straight to JetStream) and
            # after it is back (over HTTP) all arrive once, in order.
            await stream_api.stop()
            while_down = await store.append([cloud_event(project, n) for n in range(5, 8)])
            expected += [str(seq) for seq in while_down.seqs]
            await stream_api.start()
            await wait_for_rows(page, len(expected))
            await live_tail_reached(stream_api.base, token)
            after = [cloud_event(project, n) for n in range(8, 10)]
            after.append(cloud_event(project, 10, traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01"))
            expected += await publish_http(stream_api.base, token, project, after)
            await wait_for_rows(page, len(expected))
            await expect(page.locator("#connection")).to_have_text(f"Live · {project}")
            # Events arrive in order, so once the newest is shown, a duplicate of any would be too.
            await page.locator(f"#event-rows tr[data-cursor='{expected[-1]}']").wait_for(timeout=20_000)
            shown = await shown_cursors(page)
            assert shown == sorted(expected, key=int, reverse=True)
            assert len(set(shown)) == len(shown) == 11

            # A clicked event shows where it spent its time, with the producer's trace id.
            await page.locator(f"#event-rows tr[data-cursor='{expected[-1]}']").click()
            trace = page.locator("#trace-view")
            await expect(trace.locator(".waterfall li")).to_have_count(5)
            await expect(trace.locator(".waterfall li").nth(0)).to_contain_text("Publish → stored")
            await expect(trace.locator(".waterfall li").nth(3)).to_contain_text("Delivered → this browser")
            for stage in range(4):
                await expect(trace.locator(".waterfall li .value").nth(stage)).not_to_have_text("—")
            await expect(trace.locator(".facts")).to_contain_text(TRACE_ID)
            await expect(trace.locator(".facts")).to_contain_text("Received here")

            # The restarted instance's figures count the events delivered since it started.
            await expect(page.locator("[data-stat=position]")).to_have_text(expected[-1], timeout=10_000)
            await expect(page.locator("[data-latency=p99]")).to_have_text(A_DURATION)

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        finally:
            await browser.close()

    assert script_errors == []
    # While the stream API was down, the browser logged its refused connections: those are the
    # only errors allowed.
    assert [e for e in console_errors if not e.startswith("Failed to load resource")] == []
