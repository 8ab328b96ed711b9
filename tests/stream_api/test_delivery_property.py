"""The delivery guarantee as a property: for any stream, filter and disconnect points, what a
reconnecting client receives, concatenated, is exactly the stream filtered, in order — for SSE,
WebSocket and polling, while events keep arriving."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runwire.contract.filters import make_filter
from runwire.contract.subjects import EventSubject
from runwire_stream_api.app import create_app
from tests.stream_api.conftest import SECRET, event, settings_for
from tests.support.http_server import serving
from tests.support.stream_clients import events_of, sse, ws, ws_read

TYPES = ["a.b", "a.c", "a.b.c", "b.x", "c"]
PATTERNS = ["a.*", "a.b", "a.>", "b.>", "c", "*.x"]
AGGREGATES = ["r1", "r2", "r3"]


@dataclass
class Scenario:
    events: list[tuple[str, str]]
    before_connect: int
    types: list[str]
    aggregates: list[str]
    disconnects: list[int]
    page: int
    burst: int


scenarios = st.builds(
    Scenario,
    events=st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(AGGREGATES)), max_size=60),
    before_connect=st.integers(0, 30),
    types=st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True),
    aggregates=st.lists(st.sampled_from(AGGREGATES), max_size=2, unique=True),
    disconnects=st.lists(st.integers(1, 20), max_size=4),
    page=st.integers(1, 6),
    burst=st.integers(1, 8),
)


def expected_ids(scenario: Scenario, project: str, published: list[dict[str, Any]]) -> list[str]:
    event_filter = make_filter(project, scenario.types, scenario.aggregates)
    return [
        e["id"] for e in published if event_filter.matches(EventSubject(project, e["subject"], e["type"]))
    ]


def params_of(scenario: Scenario) -> dict[str, str]:
    params = {}
    if scenario.types:
        params["types"] = ",".join(scenario.types)
    if scenario.aggregates:
        params["aggregates"] = ",".join(scenario.aggregates)
    return params


async def run(nats_url: str, scenario: Scenario, transport: str) -> tuple[list[str], list[str]]:
    project = f"prop-{uuid.uuid4().hex[:10]}"
    published = [event(project, type_, aggregate) for type_, aggregate in scenario.events]
    split = min(scenario.before_connect, len(published))
    token = __import__("runwire.web.auth", fromlist=["issue_token"]).issue_token(SECRET, "prop", [project])
    app = create_app(settings_for(nats_url, client_queue_events=4))
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def publish(batch: list[dict[str, Any]]) -> None:
            # In bursts of a few events: appends land while clients replay, attach and drain.
            for start in range(0, len(batch), scenario.burst):
                response = await http.post(
                    f"/v1/projects/{project}/events",
                    json=batch[start : start + scenario.burst],
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 202, response.text

        await publish(published[:split])
        expected = expected_ids(scenario, project, published)
        received: list[str] = []
        cursor: str | None = None
        later = asyncio.create_task(publish(published[split:]))
        disconnects = sorted(set(scenario.disconnects))
        base_params = params_of(scenario)

        async def session(stop_after: int) -> None:
            nonlocal cursor
            params = dict(base_params)
            if cursor is None:
                params["from"] = "earliest"
            else:
                params["last_event_id"] = cursor
            want = min(stop_after, len(expected)) - len(received)
            if transport == "sse":
                async with sse(base, project, token, params) as reader:
                    got = await reader.read_events(want, timeout=15) if want > 0 else []
                    for message in got[:want]:
                        received.append(message.json["id"])
                        cursor = message.id
            elif transport == "ws":
                async with ws(base, project, token, params) as connection:
                    for item in await ws_read(connection, want, timeout=15) if want > 0 else []:
                        received.append(item["event"]["id"])
                        cursor = item["id"]
            else:
                params["limit"] = str(scenario.page)
                params["wait"] = "2"
                response = await http.get(
                    f"/v1/projects/{project}/events",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                page = response.json()
                received.extend(item["event"]["id"] for item in page["events"])
                cursor = page["next"]

        for point in [*disconnects, len(expected)]:
            while len(received) < min(point, len(expected)):
                await session(point)
                if transport != "poll":
                    break
        await later
        # After everything is published, one more session must find nothing new.
        if transport == "poll":
            response = await http.get(
                f"/v1/projects/{project}/events",
                params={**base_params, "last_event_id": cursor or "0"},
                headers={"Authorization": f"Bearer {token}"},
            )
            received.extend(item["event"]["id"] for item in response.json()["events"])
        elif transport == "sse":
            params = {**base_params, **({"last_event_id": cursor} if cursor else {"from": "earliest"})}
            async with sse(base, project, token, params) as reader:
                messages = await reader.read_until(lambda ms: any(m.comment == "heartbeat" for m in ms))
                received.extend(json.loads(m.data)["id"] for m in events_of(messages))
    return received, expected


PROPERTY = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(scenarios)
def test_sse_reconnecting_client_receives_exactly_the_filtered_stream(
    nats_url: str, scenario: Scenario
) -> None:
    received, expected = asyncio.run(run(nats_url, scenario, "sse"))
    assert received == expected


@PROPERTY
@given(scenarios)
def test_websocket_reconnecting_client_receives_exactly_the_filtered_stream(
    nats_url: str, scenario: Scenario
) -> None:
    received, expected = asyncio.run(run(nats_url, scenario, "ws"))
    assert received == expected


@PROPERTY
@given(scenarios)
def test_polling_client_receives_exactly_the_filtered_stream(nats_url: str, scenario: Scenario) -> None:
    received, expected = asyncio.run(run(nats_url, scenario, "poll"))
    assert received == expected
