"""What is served is valid, as a property: whatever junk a raw NATS producer interleaves with valid
events (random bytes, non-JSON, `{`-prefixed garbage, JSON that is no CloudEvent, a CloudEvent
whose project, aggregate or type disagrees with its subject), every SSE, WebSocket and polling
client, live or replaying, receives exactly the valid events in order, every response and frame
parses, and polls reach the end of the stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS

from runwire.contract.envelope import encode_event, new_event
from runwire.jetstream.connection import connect_nats
from runwire.web.auth import issue_token
from runwire_stream_api.app import create_app
from tests.stream_api.conftest import SECRET, settings_for
from tests.support.http_server import serving
from tests.support.stream_clients import SSEReader, events_of, poll, sse, ws, ws_read

TYPES = ["a.b", "a.c", "b"]
AGGREGATES = ["r1", "r2"]
MISMATCHES = ["project", "aggregate", "project_wide", "type", "short_subject"]


@dataclass(frozen=True)
class Valid:
    type: str
    aggregate: str


@dataclass(frozen=True)
class Junk:
    """Stored under a valid-looking subject of the client's project: `payload`, or a mismatch."""

    type: str
    aggregate: str
    payload: bytes | None = None
    mismatch: str | None = None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
payloads = st.one_of(
    st.binary(max_size=48),  # random bytes
    st.text(max_size=48).map(str.encode),  # text, JSON or not
    st.binary(max_size=48).map(lambda tail: b"{" + tail),  # `{`-prefixed garbage
    json_values.map(lambda value: json.dumps(value).encode()),  # JSON that is not a CloudEvent
)
places = {"type": st.sampled_from(TYPES), "aggregate": st.sampled_from(AGGREGATES)}
items = st.lists(
    st.one_of(
        st.builds(Valid, **places),
        st.builds(Junk, **places, payload=payloads),
        st.builds(Junk, **places, mismatch=st.sampled_from(MISMATCHES)),
    ),
    max_size=16,
)


def body(project: str, type_: str, aggregate: str | None) -> tuple[bytes, str]:
    event = new_event(type=type_, project=project, source="/raw", subject=aggregate, data={"k": "v"})
    return encode_event(event), event.id


def stored_form(project: str, item: Valid | Junk) -> tuple[str, bytes, str | None]:
    """(NATS subject, payload, the event id if it is a valid event)."""
    subject = f"events.{project}.{item.aggregate}.{item.type}"
    if isinstance(item, Valid):
        data, event_id = body(project, item.type, item.aggregate)
        return subject, data, event_id
    if item.payload is not None:
        return subject, item.payload, None
    other_type = TYPES[(TYPES.index(item.type) + 1) % len(TYPES)]
    other_aggregate = AGGREGATES[(AGGREGATES.index(item.aggregate) + 1) % len(AGGREGATES)]
    data = {
        "project": lambda: body(f"{project}-other", item.type, item.aggregate)[0],
        "aggregate": lambda: body(project, item.type, other_aggregate)[0],
        "project_wide": lambda: body(project, item.type, None)[0],
        "type": lambda: body(project, other_type, item.aggregate)[0],
        "short_subject": lambda: body(project, item.type, item.aggregate)[0],
    }[item.mismatch or ""]()
    if item.mismatch == "short_subject":
        subject = f"events.{project}.{item.aggregate}"
    return subject, data, None


async def publish_raw(nc: NATS, subject: str, data: bytes) -> int:
    return (await nc.jetstream().publish(subject, data)).seq


async def poll_to(
    http: httpx.AsyncClient, project: str, token: str, first: dict[str, str], last: asyncio.Future[int]
) -> list[str]:
    """Poll small pages until `next` is the last stored sequence; every body must parse."""
    received: list[str] = []
    params = first
    while True:
        response = await poll(http, project, token, limit=3, wait=0.5, **params)
        assert response.status_code == 200, response.text
        page = json.loads(response.content)
        received.extend(item["event"]["id"] for item in page["events"])
        params = {"last_event_id": page["next"]}
        if last.done() and page["next"] == str(last.result()):
            return received


async def sse_ids(reader: SSEReader, count: int) -> list[str]:
    messages = await reader.read_events(count, timeout=15)
    for message in messages:  # every frame is a CloudEvent of the type SSE names
        assert message.json["type"] == message.event
    return [message.json["id"] for message in events_of(reader.messages)]


async def ws_ids(connection: Any, count: int) -> list[str]:
    return [message["event"]["id"] for message in await ws_read(connection, count, timeout=15)]


async def run(nats_url: str, nc: NATS, scenario: list[Valid | Junk]) -> None:
    project = f"junk-{uuid.uuid4().hex[:10]}"
    token = issue_token(SECRET, "junk", [project])
    app = create_app(settings_for(nats_url))
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        sse(base, project, token) as live_sse,
        ws(base, project, token) as live_ws,
    ):
        await live_sse.read_until(lambda messages: any(m.comment == "connected" for m in messages))
        start = json.loads((await poll(http, project, token)).content)["next"]
        stored_last: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        live_poll = asyncio.create_task(poll_to(http, project, token, {"last_event_id": start}, stored_last))

        expected: list[str] = []
        last = 0
        for item in scenario:
            subject, data, event_id = stored_form(project, item)
            last = await publish_raw(nc, subject, data)
            if event_id is not None:
                expected.append(event_id)
        if last:
            stored_last.set_result(last)
            assert await asyncio.wait_for(live_poll, 30) == expected
            # A poll that starts before the junk reaches the end of the stream.
            replayed = poll_to(http, project, token, {"from": "earliest"}, stored_last)
            assert await asyncio.wait_for(replayed, 30) == expected
        else:
            live_poll.cancel()

        # A valid event last, so that "exactly" is observed without waiting for nothing to happen.
        data, sentinel = body(project, TYPES[0], AGGREGATES[0])
        await publish_raw(nc, f"events.{project}.{AGGREGATES[0]}.{TYPES[0]}", data)
        everything = [*expected, sentinel]
        assert await sse_ids(live_sse, len(everything)) == everything
        assert await ws_ids(live_ws, len(everything)) == everything

        async with (
            sse(base, project, token, {"from": "earliest"}) as replay_sse,
            ws(base, project, token, {"from": "earliest"}) as replay_ws,
        ):
            assert await sse_ids(replay_sse, len(everything)) == everything
            assert await ws_ids(replay_ws, len(everything)) == everything


async def scenario_with_producer(nats_url: str, scenario: list[Valid | Junk]) -> None:
    nc = await connect_nats([nats_url], "raw-producer")
    try:
        await asyncio.wait_for(run(nats_url, nc, scenario), 60)
    finally:
        await nc.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items)
def test_every_client_live_or_replaying_receives_exactly_the_valid_events_among_junk(
    nats_url: str, scenario: list[Valid | Junk]
) -> None:
    asyncio.run(scenario_with_producer(nats_url, scenario))
