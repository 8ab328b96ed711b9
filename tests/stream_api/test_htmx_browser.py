"""htmx and EventSource in headless Chromium, from another origin, against a real stream API.

The page is served by a second local server (so the stream is cross-origin, and htmx-ext-sse's
EventSource `withCredentials` needs `Access-Control-Allow-Credentials`); htmx and htmx-ext-sse come
from npm (tests/browser, `npm ci`). Events must be appended as escaped HTML: markup in event data
arrives as text. A plain EventSource with `event_names=message` sees every event in `onmessage`.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from litestar import Litestar, MediaType, Response, get
from litestar.params import FromPath
from playwright.async_api import Browser, async_playwright, expect

from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.browser import CHROMIUM_ARGS, browser_packages, require_chromium
from tests.support.http_server import serving

SCRIPTS = {"htmx.min.js": "htmx.org/dist/htmx.min.js", "sse.js": "htmx-ext-sse/sse.js"}


def page_server(modules: Path, pages: dict[str, str]) -> Litestar:
    """A static server for the test pages and the npm scripts they load."""

    @get("/{name:str}", sync_to_thread=False)
    def serve(name: FromPath[str]) -> Response[bytes]:
        if name in SCRIPTS:
            return Response((modules / SCRIPTS[name]).read_bytes(), media_type="text/javascript")
        return Response(pages[name].encode(), media_type=MediaType.HTML)

    return Litestar(route_handlers=[serve])


class Site:
    """The page server's base URL, the pages it serves, and the stream API it talks to."""

    def __init__(self, base: str, pages: dict[str, str], api: StreamAPI) -> None:
        self.base = base
        self.pages = pages
        self.api = api


@pytest.fixture
async def site(start_api: StartAPI) -> AsyncIterator[tuple[Site, Browser]]:
    chromium = require_chromium()
    modules = browser_packages()
    pages: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        # The page origin is only known once its server listens; the API allows it by name.
        base = await stack.enter_async_context(serving(page_server(modules, pages)))
        api = await start_api(cors_origins=f"{base}, https://unrelated.example")
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        stack.push_async_callback(browser.close)
        yield Site(base, pages, api), browser


def htmx_page(stream_url: str) -> str:
    """docs/htmx.md's partial, as a user would paste it."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<script src="/htmx.min.js"></script>
<script src="/sse.js"></script>
</head><body>
<div hx-ext="sse" sse-connect="{html.escape(stream_url)}">
  <div id="events" sse-swap="message" hx-swap="beforeend"></div>
</div>
</body></html>"""


async def test_htmx_appends_escaped_fragments_cross_origin(site: tuple[Site, Browser], project: str) -> None:
    web, browser = site
    api = web.api
    before = await api.publish(project, [event(project, "run.step.one", "a1", text="first")])
    url = (
        f"{api.base}/v1/projects/{project}/events/stream"
        f"?format=html&event_names=message&from=snapshot&access_token={api.token()}"
    )
    web.pages["htmx.html"] = htmx_page(url)
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{web.base}/htmx.html")
    rows = page.locator("#events .runwire-event")
    await expect(rows).to_have_count(1, timeout=15_000)  # the snapshot: the last event of a1
    live = await api.publish(project, [event(project, "run.step.two", "a2", text="<b>A0</b>")])
    await expect(rows).to_have_count(2, timeout=15_000)
    await expect(rows.nth(1)).to_contain_text("<b>A0</b>")  # shown as text ...
    await expect(page.locator("#events b")).to_have_count(0)  # ... never as markup
    assert [await row.get_attribute("data-cursor") for row in await rows.all()] == before + live
    await expect(rows.nth(1).locator(".runwire-event-type")).to_have_text("run.step.two")
    await expect(rows.nth(1).locator(".runwire-event-subject")).to_have_text("a2")
    assert errors == []


async def test_event_source_onmessage_sees_every_event(site: tuple[Site, Browser], project: str) -> None:
    web, browser = site
    api = web.api
    web.pages["blank.html"] = "<!doctype html><title>blank</title>"
    page = await browser.new_page()
    await page.goto(f"{web.base}/blank.html")
    url = f"{api.base}/v1/projects/{project}/events/stream?event_names=message&access_token={api.token()}"
    await page.evaluate(
        """url => {
            window.got = [];
            window.isOpen = false;
            const source = new EventSource(url, {withCredentials: true});
            source.onopen = () => { window.isOpen = true; };
            source.onmessage = e => window.got.push([e.lastEventId, JSON.parse(e.data).type]);
        }""",
        url,
    )
    await page.wait_for_function("window.isOpen", timeout=15_000)
    cursors = await api.publish(project, [event(project, "run.step.one"), event(project, "agent.said")])
    await page.wait_for_function("window.got.length >= 2", timeout=15_000)
    got = await page.evaluate("window.got")
    assert got == [[cursors[0], "run.step.one"], [cursors[1], "agent.said"]]
