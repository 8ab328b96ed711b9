"""RawParser against nats-py's own parser, on bytes a real nats-server sent: the same messages, in the
same order, however the reads split them, with the raw subscription's ones handed over in runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from nats.aio.client import Client as NATS
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from runwire.jetstream.connection import FAST_PARSER
from runwire.jetstream.event_store import EventStore
from runwire.jetstream.raw_parser import RawParser, RawRun, parser_is_known
from tests.support.eventually import eventually

RAW_SID = 1
OTHER_SID = 2

Event = tuple[object, ...]


@dataclass
class Recorder:
    """The client side of a parser: records everything the parser hands over, in order."""

    log: list[Event] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {"in_msgs": 0, "in_bytes": 0})
    answers: list[str] = field(default_factory=list)
    runs: int = 0

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        self.log.append(("msg", sid, subject, reply, data, headers))

    async def _process_ping(self) -> None:
        self.log.append(("ping",))

    async def _process_pong(self) -> None:
        self.log.append(("pong",))

    async def _process_info(self, info: dict[str, object]) -> None:
        self.log.append(("info", info.get("server_id")))

    async def _process_err(self, message: str) -> None:
        self.log.append(("err", message))

    async def publish(self, subject: str, payload: bytes) -> None:
        self.published.append(subject)

    def raw(self, run: RawRun) -> list[str] | None:
        """The raw subscription's handler: its messages join the log as nats-py's hook would see them."""
        self.runs += 1
        for subject, reply, data, headers in run:
            self.log.append(("msg", RAW_SID, subject, reply, data, headers))
        return self.answers or None


def raw_messages(log: list[Event]) -> list[Event]:
    return [event for event in log if event[0] == "msg" and event[1] == RAW_SID]


def status(event: Event) -> bytes:
    """The headers of a logged message (empty when it has none)."""
    headers = event[5]
    assert headers is None or isinstance(headers, bytes)
    return headers or b""


def payload(event: Event) -> bytes:
    data = event[4]
    assert isinstance(data, bytes)
    return data


async def reference(chunks: list[bytes]) -> list[Event]:
    recorder = Recorder()
    parser = Parser(recorder)
    for chunk in chunks:
        await parser.parse(chunk)
    return recorder.log


async def fast(chunks: list[bytes], *, payload_headers: bool = True) -> Recorder:
    recorder = Recorder()
    parser = RawParser(recorder)  # type: ignore[arg-type]
    parser.add(RAW_SID, recorder.raw, payload_headers=payload_headers)
    for chunk in chunks:
        await parser.parse(chunk)
    assert not parser.buf, "a complete capture leaves nothing behind"
    return recorder


@contextlib.asynccontextmanager
async def wire(nats_url: str) -> AsyncIterator[tuple[asyncio.StreamReader, str, str]]:
    """A bare protocol connection subscribed to an inbox (sid 1) and another subject (sid 2)."""
    host, port = nats_url.rsplit("/", 1)[-1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nPING\r\n')
        assert await reader.readline() == b"PONG\r\n"
        inbox = f"_INBOX.raw-{uuid.uuid4().hex}"
        other = f"other.{uuid.uuid4().hex}"
        writer.write(f"SUB {inbox} {RAW_SID}\r\nSUB {other} {OTHER_SID}\r\nPING\r\n".encode())
        await writer.drain()
        yield reader, inbox, other
    finally:
        writer.close()


async def capture(nc: NATS, nats_url: str, project: str, events: int, pad: int) -> bytes:
    """Everything a real server sends a connection while a JetStream consumer with flow control and
    idle heartbeats replays `events` stored messages (payloads with CR LF, headers) to its inbox,
    with core messages (with and without reply, empty) to the inbox and to another subscription."""
    async with wire(nats_url) as (reader, inbox, other):
        received = bytearray()

        async def read() -> None:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                received.extend(chunk)

        task = asyncio.create_task(read())
        try:
            await eventually(lambda: b"PONG\r\n" in received or None)
            for index in range(events):
                body = b'{"i": %d,\r\n "pad": "%s"}\r\n' % (index, b"x" * pad)
                await nc.publish(
                    f"events.{project}.a.t{index % 3}", body, headers={"Nats-Msg-Id": f"{project}-{index}"}
                )
            await nc.flush()
            config = {
                "name": f"raw-{project}",
                "deliver_subject": inbox,
                "ack_policy": "none",
                "flow_control": True,
                "idle_heartbeat": 200_000_000,
                "mem_storage": True,
                "filter_subject": f"events.{project}.>",
                "deliver_policy": "all",
            }
            reply = await nc.request(
                f"$JS.API.CONSUMER.CREATE.EVENTS.raw-{project}",
                json.dumps({"stream_name": "EVENTS", "config": config, "action": "create"}).encode(),
            )
            assert b'"error"' not in reply.data
            await nc.publish(inbox, b"core\r\nwith CR LF", reply="reply.to")
            await nc.publish(inbox, b"")
            await nc.publish(other, b"other\r\n", headers={"a": "b"})
            await nc.publish(other, b"plain")
            await eventually(lambda: received.count(b"Idle Heartbeat") >= 2 or None)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return bytes(received)


@pytest.fixture
async def small(store: EventStore, nats_url: str, project: str) -> bytes:
    return await capture(store.nc, nats_url, project, events=12, pad=20)


def test_the_pinned_nats_py_has_the_parser_the_fast_path_takes_over() -> None:
    """If this fails, nats-py's parser changed: raw reads fall back to its parser (slower replay)."""
    assert parser_is_known()
    assert FAST_PARSER


async def test_a_capture_parses_as_nats_py_parses_it(small: bytes) -> None:
    expected = await reference([small])
    recorder = await fast([small])
    assert recorder.log == expected
    assert {"pong", "msg"} <= {event[0] for event in expected}
    assert {event[1] for event in expected if event[0] == "msg"} == {RAW_SID, OTHER_SID}
    raw = raw_messages(expected)
    assert sum(1 for event in raw if b"Idle Heartbeat" in status(event)) >= 2
    assert any(b"\r\n" in payload(event) for event in raw)
    assert recorder.stats["in_msgs"] == len(raw)


async def test_every_split_point_parses_the_same(small: bytes) -> None:
    expected = await reference([small])
    for cut in range(1, len(small)):
        recorder = await fast([small[:cut], small[cut:]])
        assert recorder.log == expected, f"split at byte {cut}"


async def test_a_byte_at_a_time_parses_the_same(small: bytes) -> None:
    expected = await reference([small])
    recorder = await fast([small[index : index + 1] for index in range(len(small))])
    assert recorder.log == expected


async def test_operations_between_messages_keep_their_place(small: bytes) -> None:
    """PING, PONG, +OK, -ERR and INFO between raw messages are nats-py's, in stream order."""
    messages = small.split(b"\r\nHMSG ")
    extras = [
        b"PING\r\n",
        b"+OK\r\n",
        b"PONG\r\n",
        b"-ERR 'Stale Connection'\r\n",
        b'INFO {"server_id":"x"}\r\n',
    ]
    spliced = messages[0]
    for index, rest in enumerate(messages[1:]):
        spliced += (
            b"\r\n" + (extras[index % len(extras)] if index < 2 * len(extras) else b"") + b"HMSG " + rest
        )
    expected = await reference([spliced])
    assert ("ping",) in expected and ("err", "'stale connection'") in expected
    for cut in range(1, len(spliced), 7):
        assert (await fast([spliced[:cut], spliced[cut:]])).log == expected, f"split at byte {cut}"


async def test_without_payload_headers_only_messages_without_a_payload_carry_theirs(small: bytes) -> None:
    expected = await reference([small])
    recorder = await fast([small], payload_headers=False)
    for got, want in zip(recorder.log, expected, strict=True):
        if want[0] == "msg" and want[1] == RAW_SID and want[4]:
            assert got == (*want[:5], None)
        else:
            assert got == want


async def test_a_handler_gets_runs_and_its_answers_are_published(small: bytes) -> None:
    recorder = Recorder(answers=["$JS.FC.answer"])
    parser = RawParser(recorder)  # type: ignore[arg-type]
    parser.add(RAW_SID, recorder.raw)
    await parser.parse(small)
    raw = raw_messages(recorder.log)
    assert recorder.runs < len(raw)  # messages come in runs, not one call each
    assert recorder.published == ["$JS.FC.answer"] * recorder.runs


async def test_a_removed_subscription_goes_back_to_nats_py(small: bytes) -> None:
    recorder = Recorder()
    parser = RawParser(recorder)  # type: ignore[arg-type]
    parser.add(RAW_SID, recorder.raw)
    parser.remove(RAW_SID)
    await parser.parse(small)
    assert recorder.runs == 0
    assert recorder.log == await reference([small])


@pytest.mark.parametrize(
    "line", [b"MSG a 1 notanumber\r\nxx\r\n", b"HMSG a 1 r x 12\r\n"], ids=["size", "header-size"]
)
async def test_a_malformed_size_is_a_protocol_error(line: bytes) -> None:
    recorder = Recorder()
    parser = RawParser(recorder)  # type: ignore[arg-type]
    parser.add(RAW_SID, recorder.raw)
    with pytest.raises(ProtocolError):
        await parser.parse(line)


async def test_a_flow_controlled_replay_in_reads_of_any_size(
    store: EventStore, nats_url: str, project: str
) -> None:
    """Over 2 MiB: the server stops at a flow-control request (it is never answered here)."""
    data = await capture(store.nc, nats_url, project, events=800, pad=3000)
    expected = await reference([data])
    assert any(b"FlowControl" in status(event) for event in raw_messages(expected))
    chance = random.Random(12)
    cuts = sorted(chance.sample(range(1, len(data)), 400))
    chunks = [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert (await fast(chunks)).log == expected
    reads = [data[start : start + 32768] for start in range(0, len(data), 32768)]
    assert (await fast(reads)).log == expected


@pytest.mark.parametrize(
    "odd",
    [b"MSG a 1 2\n", b"\n", b"MSG\ta 1 2\r\n", b"HMSG  a 1 0 2\r\n", b"MSG a x 2\r\n", b"MSG a 1 -2\r\n"],
    ids=["LF", "empty", "tab", "spaces", "sid", "negative"],
)
async def test_lines_not_as_nats_server_writes_them_go_to_nats_py(small: bytes, odd: bytes) -> None:
    """Wherever they come, they are nats-py's to judge: the same outcome, error or messages."""
    head, _, tail = small.partition(b"\r\nHMSG ")
    data = head + b"\r\n" + odd + b"ok\r\n" + b"HMSG " + tail
    outcomes: list[list[Event] | str] = []
    for run in (reference, fast):
        try:
            result = await run([data])
            outcomes.append(result if isinstance(result, list) else result.log)
        except ProtocolError:
            outcomes.append("protocol error")
    assert outcomes[0] == outcomes[1]
