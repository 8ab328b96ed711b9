"""NATS commands between services: a store outage on the serving side is retryable for the sender."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from nats.aio.client import Client as NATS

from runwire.jetstream.commands import (
    CommandFailed,
    CommandUnavailable,
    command_subject,
    send_command,
    serving_commands,
)
from runwire.jetstream.event_store import StoreError


class Ping(msgspec.Struct):
    n: int


class Pong(msgspec.Struct):
    n: int


async def test_a_store_outage_while_serving_a_command_is_unavailable_for_the_sender(nc: NATS) -> None:
    service = f"svc{uuid.uuid4().hex[:8]}"

    async def away(_: Ping) -> Pong:
        raise StoreError("no stream captures events.p.a.t", retryable=True)

    async with serving_commands(nc, service, {"ping": (Ping, away)}):
        with pytest.raises(CommandUnavailable, match="event store is unavailable"):
            await send_command(nc, command_subject(service, "ping"), Ping(1), Pong)


async def test_a_crash_while_serving_a_command_fails_it(nc: NATS) -> None:
    service = f"svc{uuid.uuid4().hex[:8]}"

    async def broken(_: Ping) -> Pong:
        raise RuntimeError("bug")

    async with serving_commands(nc, service, {"ping": (Ping, broken)}):
        with pytest.raises(CommandFailed) as failed:
            await send_command(nc, command_subject(service, "ping"), Ping(1), Pong)
    assert (failed.value.error.status, failed.value.error.kind) == (500, "internal")
