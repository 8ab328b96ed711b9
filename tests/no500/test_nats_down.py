"""While NATS is down every endpoint of every service answers 503 with Retry-After (never a 500),
and the same requests succeed again once NATS is back on its port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import websockets
from websockets.exceptions import InvalidStatus

from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.web.problems import PROBLEM_JSON
from tests.no500.services import Services, all_services
from tests.support.eventually import eventually

PROJECT: Final = "nats-down"
DELAY_WORKFLOW: Final = {"nodes": [{"id": "wait", "kind": "delay", "seconds": 3600}]}
EVENT: Final = {"specversion": "1.0", "source": "/no-500", "type": "no500.tested", "project": PROJECT}


@dataclass(frozen=True)
class Call:
    """One representative request: which service, method and path, and the JSON body of a POST."""

    service: str
    method: str
    path: str
    body: object = None
    command: bool = False

    def recovered(self, response: httpx.Response) -> bool:
        """Served as when NATS was up: a 2xx; for a command, a 409 too (the aggregate moved on)."""
        return response.is_success or (self.command and response.status_code == 409)

    @property
    def name(self) -> str:
        return f"{self.service} {self.method} {self.path}"


@dataclass(frozen=True)
class Created:
    """One aggregate of each kind, created while NATS was up, for the calls that address one."""

    cursor: str
    job: str
    agent_run: str
    workflow_run: str


def calls(created: Created) -> list[Call]:
    """A read and a write of every resource of every service that needs the store (SSE and WebSocket
    apart; an event's trace is served from the instance's memory)."""
    base = f"/v1/projects/{PROJECT}"
    return [
        Call("stream-api", "GET", f"{base}/events?from=earliest"),
        Call("stream-api", "POST", f"{base}/events", {**EVENT, "id": "while-down"}),
        Call("ingest", "POST", f"{base}/ingest/jobs", {"text": "some text to ingest"}),
        Call("ingest", "GET", f"{base}/ingest/jobs"),
        Call("ingest", "GET", f"{base}/ingest/jobs/{created.job}"),
        Call("ingest", "GET", f"{base}/ingest/jobs/{created.job}/chunks"),
        Call("agent", "POST", f"{base}/agent/runs", {"prompt": "what is runwire?"}),
        Call("agent", "GET", f"{base}/agent/runs"),
        Call("agent", "GET", f"{base}/agent/runs/{created.agent_run}"),
        Call(
            "agent",
            "POST",
            f"{base}/agent/runs/{created.agent_run}/messages",
            {"content": "and then?"},
            command=True,
        ),
        Call("workflow", "POST", f"{base}/workflow/runs", DELAY_WORKFLOW),
        Call("workflow", "GET", f"{base}/workflow/runs"),
        Call("workflow", "GET", f"{base}/workflow/runs/{created.workflow_run}"),
        Call("workflow", "POST", f"{base}/workflow/runs/{created.workflow_run}/cancel", {}, command=True),
    ]


async def send(http: httpx.AsyncClient, services: Services, call: Call) -> httpx.Response:
    url = services.urls[call.service] + call.path
    return await http.request(call.method, url, json=call.body, headers=services.auth)


async def sse_status(http: httpx.AsyncClient, services: Services) -> httpx.Response:
    """The response to an SSE GET, closed as soon as its status and headers are in."""
    url = f"{services.urls['stream-api']}/v1/projects/{PROJECT}/events/stream"
    async with http.stream("GET", url, headers=services.auth) as response:
        if response.status_code != 200:
            await response.aread()
        return response


async def ws_refusal(services: Services) -> websockets.http11.Response | None:
    """The HTTP answer of a refused WebSocket upgrade, or None when the upgrade succeeds."""
    url = services.urls["stream-api"].replace("http://", "ws://") + f"/v1/projects/{PROJECT}/events/ws"
    try:
        async with websockets.connect(f"{url}?access_token={services.token}", open_timeout=30):
            return None
    except InvalidStatus as exc:
        return exc.response


async def create_one_of_each(http: httpx.AsyncClient, services: Services) -> Created:
    base = f"/v1/projects/{PROJECT}"
    published = await http.post(
        services.urls["stream-api"] + f"{base}/events",
        json={**EVENT, "id": "while-up"},
        headers=services.auth,
    )
    job = await http.post(
        services.urls["ingest"] + f"{base}/ingest/jobs", json={"text": "x"}, headers=services.auth
    )
    run = await http.post(
        services.urls["agent"] + f"{base}/agent/runs", json={"prompt": "p"}, headers=services.auth
    )
    workflow = await http.post(
        services.urls["workflow"] + f"{base}/workflow/runs", json=DELAY_WORKFLOW, headers=services.auth
    )
    for response in (published, job, run, workflow):
        assert response.is_success, response.text
    return Created(
        published.json()["events"][0]["cursor"], job.json()["id"], run.json()["id"], workflow.json()["id"]
    )


class Nats:
    """A nats-server of the test's own that can crash (SIGKILL) and come back on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = EmbeddedNats(data_dir)
        self.server.start()
        self.port = self.server.port or -1

    def kill(self) -> None:
        self.server.kill()

    def restart(self) -> None:
        self.server = EmbeddedNats(self.data_dir, port=self.port)
        self.server.start()


@contextlib.asynccontextmanager
async def nats_then_services(data_dir: Path) -> AsyncIterator[tuple[Nats, Services, Created]]:
    """A nats-server of this test's own, the four services on it, and one aggregate of each kind."""
    nats = Nats(data_dir)
    try:
        async with all_services(nats.server.url) as services, httpx.AsyncClient(timeout=60) as http:
            yield nats, services, await create_one_of_each(http, services)
    finally:
        nats.server.stop()


def is_store_unavailable(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("content-type") == PROBLEM_JSON
        and response.headers.get("retry-after", "").isdigit()
    )


async def test_every_endpoint_answers_503_with_retry_after_while_nats_is_down(tmp_path: Path) -> None:
    async with (
        nats_then_services(tmp_path) as (server, services, created),
        httpx.AsyncClient(timeout=60) as http,
    ):
        server.kill()
        todo = calls(created)
        responses = await asyncio.gather(*(send(http, services, call) for call in todo))
        sse = await sse_status(http, services)
        ws = await ws_refusal(services)
    others = {
        call.name: f"{response.status_code} {response.text}"
        for call, response in [*zip(todo, responses, strict=True), (Call("stream-api", "GET", "SSE"), sse)]
        if not is_store_unavailable(response)
    }
    assert others == {}
    assert ws is not None, "the WebSocket upgrade was accepted"
    assert ws.status_code == 503
    assert ws.headers["retry-after"].isdigit()


async def test_every_endpoint_answers_2xx_again_once_nats_is_back(tmp_path: Path) -> None:
    async with (
        nats_then_services(tmp_path) as (server, services, created),
        httpx.AsyncClient(timeout=60) as http,
    ):
        server.kill()
        assert (await send(http, services, calls(created)[0])).status_code == 503
        server.restart()
        failing: dict[str, str] = {}

        async def all_recovered() -> bool | None:
            todo = calls(created)
            responses = await asyncio.gather(*(send(http, services, call) for call in todo))
            failing.clear()
            failing.update(
                {
                    c.name: f"{r.status_code} {r.text}"
                    for c, r in zip(todo, responses, strict=True)
                    if not c.recovered(r)
                }
            )
            return True if not failing else None

        try:
            await eventually(all_recovered, timeout=30)
        except AssertionError:
            raise AssertionError(f"not recovered: {failing}") from None
        assert (await sse_status(http, services)).status_code == 200
        assert await ws_refusal(services) is None
