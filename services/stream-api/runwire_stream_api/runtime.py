"""What one stream API instance holds while it runs: its NATS connection, store, fan-out and clients.

Nothing here needs to survive a restart: clients resume from their cursors on any instance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS

from runwire.cursor import format_cursor
from runwire.event_store import EventStore
from runwire.filters import EventFilter
from runwire.problems import ProblemError
from runwire.settings import Settings
from runwire.telemetry import Telemetry
from runwire_stream_api.client_stream import ClientStream
from runwire_stream_api.delivery import DeliveryRecorder
from runwire_stream_api.fanout import Hub
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

    def __post_init__(self) -> None:
        self.metrics.on_scrape(self._collect)

    def open_client(self, event_filter: EventFilter, after: int, transport: str) -> ClientStream:
        """A new stream client, or 503 + Retry-After when the instance is full or stopping."""
        if self.shutting_down:
            self.metrics.connections_refused.labels("shutdown").inc()
            raise ProblemError(
                503,
                "server is shutting down; reconnect",
                kind="unavailable",
                title="Service Unavailable",
                headers={"Retry-After": "1"},
            )
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
            delivery=DeliveryRecorder(
                self.latency,
                self.telemetry,
                self.metrics.deliveries,
                self.hub.recent,
                transport,
                event_filter.project,
            ),
        )
        self.clients.add(client)
        self.metrics.connections.labels(transport).inc()
        return client

    def release(self, client: ClientStream) -> None:
        """Forget a finished client (idempotent)."""
        client.close()
        if client in self.clients:
            self.clients.remove(client)
            self.metrics.connections.labels(client.transport).dec()

    async def send_heartbeats(self) -> None:
        """Ask idle streams for a heartbeat every RUNWIRE_HEARTBEAT_SECONDS (one ticker, not a timer
        per client: waits on the hot path stay plain event waits)."""
        interval = self.settings.heartbeat_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(interval / 4, 1.0))
            now = loop.time()
            for client in list(self.clients):
                client.heartbeat_if_idle(now, interval)

    def begin_shutdown(self) -> None:
        """Refuse new streams and tell every open one to close (SSE `close`, WebSocket 1001)."""
        self.shutting_down = True
        for client in list(self.clients):
            client.shutdown()

    def stats(self) -> dict[str, object]:
        """Live figures of this instance, for the dashboard (`GET /v1/stats`)."""
        by_transport = dict.fromkeys(TRANSPORTS, 0)
        for client in self.clients:
            by_transport[client.transport] += 1
        sample = self.metrics.registry.get_sample_value
        return {
            "connections": by_transport,
            "catch_up_clients": sum(1 for c in self.clients if c.catching_up),
            "queue_depth": sum(c.queued for c in self.clients),
            "events_in": int(sample("runwire_stream_events_in_total") or 0),
            "deliveries": dict(self.metrics.deliveries),
            "position": format_cursor(self.hub.position),
            "latency": self.latency.window.summary(),
        }

    def _collect(self) -> None:
        self.metrics.nats_connected.set(1 if self.nc.is_connected else 0)
        self.metrics.queue_depth.set(sum(c.queued for c in self.clients))
        self.metrics.catch_up_clients.set(sum(1 for c in self.clients if c.catching_up))
