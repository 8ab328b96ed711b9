"""A nats-server crash and restart under a live stream: the stream API reconnects, recreates its
consumers and the open stream carries on without a gap or a duplicate."""

from __future__ import annotations

from pathlib import Path

import nats

from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.jetstream.event_store import EventStore, StreamSettings
from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.eventually import eventually
from tests.support.stream_clients import sse


async def publish_when_ready(api: StreamAPI, project: str, events: list[dict[str, object]]) -> list[str]:
    """Publish once the store takes events again (503 while NATS is coming back)."""

    async def published() -> list[str] | None:
        response = await api.http.post(
            f"/v1/projects/{project}/events", json=events, headers={"Authorization": f"Bearer {api.token()}"}
        )
        if response.status_code == 202:
            return [e["cursor"] for e in response.json()["events"]]
        assert response.status_code == 503, response.text
        return None

    return await eventually(published, timeout=20, failure=lambda: "the store did not come back")


async def test_a_stream_survives_a_nats_restart(start_api: StartAPI, tmp_path: Path, project: str) -> None:
    server = EmbeddedNats(tmp_path)
    server.start()
    try:
        nc = await nats.connect(server.url)
        await EventStore(nc).ensure_stream(StreamSettings())
        await nc.close()
        api = await start_api(server.url)
        before = await api.publish(project, [event(project, n=i) for i in range(3)])
        async with sse(api.base, project, api.token(), {"from": "earliest"}) as reader:
            await reader.read_events(3)
            port = server.port
            server.kill()
            server = EmbeddedNats(tmp_path, port=port or -1)
            server.start()
            after = await publish_when_ready(api, project, [event(project, n=i) for i in range(3, 6)])
            got = await reader.read_events(
                6, timeout=8
            )  # consumers recreated on reconnect, not after heartbeats
    finally:
        server.stop()
    assert [m.id for m in got] == before + after
