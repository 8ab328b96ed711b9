"""What one stream API instance holds while it runs: its NATS connection, store, fan-out and clients.

Nothing here needs to survive a restart: clients resume from their cursors on any instance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS

from runwire.contract.cursor import format_cursor
from runwire.contract.filters import EventFilter
from runwire.jetstream.event_store import EventStore
from runwire.ops.settings import Settings
from runwire.ops.telemetry import Telemetry
from runwire.web.problems import ProblemError
from runwire_stream_api.client_stream import ClientStream
from runwire_stream_api.delivery import DeliveryRecorder
from runwire_stream_api.fanout import Hub
from runwire_stream_api.heartbeats import Heartbeats
from runwire_stream_api.latency import LatencyRecorder
from runwire_stream_api.metrics import TRANSPORTS, StreamMetrics


@dataclass
class Runtime:
    """Created by the app's lifespan."""

    settings: Settings
    nc: NATS
    store: EventStore
    metrics: StreamMetrics
    hub: Hub
    latency: LatencyRecorder
    telemetry: Telemetry
    clients: set[ClientStream] = field(default_factory=set)
    shutting_down: bool = False
    no_clients: asyncio.Event = field(default_factory=asyncio.Event)

    heartbeats: Heartbeats = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.on_scrape(self._collect)
        self.heartbeats = Heartbeats(self.settings.heartbeat_seconds)

    def refuse_when_stopping(self) -> None:
        """503 + Retry-After once SIGTERM began: new streams and exports go to another instance."""
        if self.shutting_down:
            raise ProblemError(
                503,
                "server is shutting down; reconnect",
                kind="unavailable",
                title="Service Unavailable",
                headers={"Retry-After": "1"},
            )

    def open_client(
        self, event_filter: EventFilter, after: int, transport: str, *, snapshot: bool = False
    ) -> ClientStream:
        """A new stream client, or 503 + Retry-After when the instance is full or stopping."""
        if self.shutting_down:
            self.metrics.connections_refused.labels("shutdown").inc()
        self.refuse_when_stopping()
        if len(self.clients) >= self.settings.max_connections:
            self.metrics.connections_refused.labels("limit").inc()
            raise ProblemError(
                503,
                f"this instance serves at most {self.settings.max_connections} streams; retry shortly",
                kind="too-many-connections",
                title="Service Unavailable",
                headers={"Retry-After": "5"},
            )
        client = ClientStream(
            self.hub,
            self.store,
            event_filter,
            after=after,
            queue_limit=self.settings.client_queue_events,
            transport=transport,
            on_catch_up=self.metrics.catch_ups.labels(transport).inc,
            snapshot=snapshot,
            delivery=DeliveryRecorder(
                self.latency,
                self.telemetry,
                self.metrics.deliveries,
                self.hub.undelivered,
                transport,
                event_filter.project,
            ),
        )
        self.clients.add(client)
        self.no_clients.clear()
        self.heartbeats.watch(client, asyncio.get_running_loop().time() + self.heartbeats.interval)
        return client

    def release(self, client: ClientStream) -> None:
        """Forget a finished client (idempotent)."""
        client.close()
        self.clients.discard(client)
        if not self.clients:
            self.no_clients.set()

    async def drained(self) -> None:
        """Return once every stream has ended (after `begin_shutdown`: their close frames went out)."""
        await self.no_clients.wait()

    async def send_heartbeats(self) -> None:
        """Heartbeat idle streams every RUNWIRE_HEARTBEAT_SECONDS (one ticker, not a timer per client)."""
        await self.heartbeats.run()

    def begin_shutdown(self) -> None:
        """Refuse new streams and tell every open one to close (SSE `close`, WebSocket 1001)."""
        self.shutting_down = True
        if not self.clients:
            self.no_clients.set()
        for client in list(self.clients):
            client.shutdown()

    def stats(self) -> dict[str, object]:
        """Live figures of this instance, for the dashboard (`GET /v1/stats`)."""
        connections, catching_up, queued = self._client_figures()
        return {
            "connections": connections,
            "catch_up_clients": catching_up,
            "queue_depth": queued,
            "events_in": self.metrics.events_in.value,
            "deliveries": {transport: tally.value for transport, tally in self.metrics.deliveries.items()},
            "position": format_cursor(self.hub.position),
            "latency": self.latency.window.summary(),
        }

    def _client_figures(self) -> tuple[dict[str, int], int, int]:
        """Open streams by transport, clients in catch-up and events queued, counted now."""
        by_transport = dict.fromkeys(TRANSPORTS, 0)
        catching_up = queued = 0
        for client in self.clients:
            by_transport[client.transport] += 1
            catching_up += client.catching_up
            queued += client.queued
        return by_transport, catching_up, queued

    def _collect(self) -> None:
        connections, catching_up, queued = self._client_figures()
        for transport, count in connections.items():
            self.metrics.connections.labels(transport).set(count)
        self.metrics.nats_connected.set(1 if self.nc.is_connected else 0)
        self.metrics.queue_depth.set(queued)
        self.metrics.catch_up_clients.set(catching_up)
