"""The stream API's Prometheus metrics, on a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class StreamMetrics:
    """Counters and gauges the stream API exports at /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.nats_connected = Gauge(
            "runwire_nats_connected", "1 when the NATS connection is up", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
