"""What the Node tests ask of the Python side over HTTP: stop, kill and restart the stream API,
store events while it is down (straight to JetStream), and mint tokens for other projects."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, post
from litestar.params import JSONBody

from runwire.contract.envelope import CloudEvent
from runwire.jetstream.event_store import EventStore
from runwire.web.auth import issue_token
from tests.support.stream_api_process import StreamAPIProcess


class Append(msgspec.Struct):
    events: list[dict[str, Any]]


class TokenFor(msgspec.Struct):
    projects: list[str]


def harness_app(api: StreamAPIProcess, store: EventStore, secret: str) -> Litestar:
    """The control endpoints, bound to one stream API process and its event store."""

    @post("/stream-api/stop", status_code=200)
    async def stop() -> None:
        await api.stop()

    @post("/stream-api/kill", status_code=200)
    async def kill() -> None:
        await api.kill()

    @post("/stream-api/start", status_code=200)
    async def start() -> None:
        await api.start()

    @post("/append", status_code=200)
    async def append(data: JSONBody[Append]) -> dict[str, list[str]]:
        events = [msgspec.convert(event, CloudEvent, strict=False) for event in data.events]
        return {"cursors": [str(seq) for seq in (await store.append(events)).seqs]}

    @post("/token", status_code=200)
    async def token(data: JSONBody[TokenFor]) -> dict[str, str]:
        return {"token": issue_token(secret, "js-client-test", data.projects)}

    return Litestar([stop, kill, start, append, token])
