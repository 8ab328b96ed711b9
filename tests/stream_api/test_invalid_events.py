"""What is served is valid: a message a raw NATS producer stored that is not a CloudEvent of its
subject is skipped by every transport, counted by reason once per instance, logged with its
sequence, and cursors move past it."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client as NATS

from runwire.contract.envelope import encode_event, new_event
from tests.stream_api.conftest import StartAPI, StreamAPI
from tests.support.eventually import eventually
from tests.support.stream_clients import poll, sse, ws, ws_read

INVALID = "runwire_stream_invalid_events_total"


async def publish_raw(nc: NATS, subject: str, data: bytes) -> int:
    """What a producer in another language does: a JetStream publish straight to NATS."""
    ack = await nc.jetstream().publish(subject, data)
    return ack.seq


def valid(project: str, aggregate: str = "a1", type_: str = "test.happened") -> tuple[str, bytes, str]:
    event = new_event(type=type_, project=project, source="/raw", subject=aggregate, data={"n": 1})
    return f"events.{project}.{aggregate}.{type_}", encode_event(event), event.id


def invalid_count(api: StreamAPI, reason: str) -> float:
    value = api.runtime.metrics.registry.get_sample_value(INVALID, {"reason": reason})
    assert value is not None
    return value


async def test_a_poll_over_only_junk_moves_next_past_it(api: StreamAPI, nc: NATS, project: str) -> None:
    before = (await poll(api.http, project, api.token())).json()["next"]
    await publish_raw(nc, f"events.{project}.x.y", b"{oops")
    last = await publish_raw(nc, f"events.{project}.x.y", b'{"not": "a cloudevent"}')

    async def past_the_junk() -> bool:
        """Whether the page is empty with `next` past the junk (once the instance has seen it)."""
        response = await poll(api.http, project, api.token(), last_event_id=before, wait=1)
        page = json.loads(response.content)
        assert page["events"] == []
        return bool(page["next"] == str(last))

    await eventually(past_the_junk)


async def test_junk_between_events_is_skipped_by_a_replaying_poll(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    subject, data, first_id = valid(project)
    await publish_raw(nc, subject, data)
    await publish_raw(nc, f"events.{project}.a1.test.happened", b"{oops")
    subject, data, second_id = valid(project)
    last = await publish_raw(nc, subject, data)
    response = await poll(api.http, project, api.token(), **{"from": "earliest"})
    page = json.loads(response.content)
    assert [item["event"]["id"] for item in page["events"]] == [first_id, second_id]
    assert page["next"] == str(last)


async def test_an_event_naming_another_project_is_not_served_to_its_subjects_project(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    _, foreign, _ = valid("someone-else")
    await publish_raw(nc, f"events.{project}.a1.test.happened", foreign)
    subject, data, own_id = valid(project)
    await publish_raw(nc, subject, data)
    async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
        events = await reader.read_events(1)
    assert [message.json["id"] for message in events] == [own_id]


async def test_live_websocket_and_sse_clients_skip_junk(api: StreamAPI, nc: NATS, project: str) -> None:
    subject, data, event_id = valid(project)
    async with (
        sse(api.base, project, api.token()) as reader,
        ws(api.base, project, api.token()) as connection,
    ):
        await reader.read_until(lambda messages: any(m.comment == "connected" for m in messages))
        await publish_raw(nc, f"events.{project}.a1.test.happened", b"\xff\xfe{")
        await publish_raw(nc, subject, data)
        sse_events = await reader.read_events(1)
        ws_events = await ws_read(connection, 1)
    assert [message.json["id"] for message in sse_events] == [event_id]
    assert [message["event"]["id"] for message in ws_events] == [event_id]


async def test_each_invalid_message_is_counted_and_logged_once_however_many_clients_read_it(
    api: StreamAPI, nc: NATS, project: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runwire_stream_api.verdicts")
    not_json = await publish_raw(nc, f"events.{project}.x.y", b"{oops")
    await publish_raw(nc, f"events.{project}.x.y", b"[1]")
    _, foreign, _ = valid("someone-else")
    await publish_raw(nc, f"events.{project}.a1.test.happened", foreign)
    subject, data, event_id = valid(project)
    await publish_raw(nc, subject, data)
    for _ in range(3):  # three replaying clients, each reading all of it
        async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
            assert [m.json["id"] for m in await reader.read_events(1)] == [event_id]
    assert invalid_count(api, "not_json") == 1
    assert invalid_count(api, "not_cloudevent") == 1
    assert invalid_count(api, "subject_mismatch") == 1
    skipped = [r.getMessage() for r in caplog.records if r.name == "runwire_stream_api.verdicts"]
    assert len(skipped) == 3
    assert f"skipped stored message {not_json} on events.{project}.x.y" in skipped[0]
    assert "oops" not in skipped[0]


async def test_history_stored_before_the_instance_started_is_checked_once(
    start_api: StartAPI, nc: NATS, project: str
) -> None:
    await publish_raw(nc, f"events.{project}.x.y", b"{oops")
    subject, data, event_id = valid(project)
    await publish_raw(nc, subject, data)
    api = await start_api()
    for _ in range(2):
        async with ws(api.base, project, api.token(), {"from": "earliest"}) as connection:
            assert [m["event"]["id"] for m in await ws_read(connection, 1)] == [event_id]
    assert invalid_count(api, "not_json") == 1


async def test_a_valid_event_is_served_with_its_stored_bytes_on_one_line(
    api: StreamAPI, nc: NATS, project: str
) -> None:
    subject, data, event_id = valid(project)
    document: dict[str, Any] = msgspec.json.decode(data)
    pretty = json.dumps(document, indent=2).encode()  # what a producer may well write
    await publish_raw(nc, subject, pretty)
    async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
        (message,) = await reader.read_events(1)
    assert "\n" not in message.data
    assert json.loads(message.data) == document
    assert message.json["id"] == event_id
