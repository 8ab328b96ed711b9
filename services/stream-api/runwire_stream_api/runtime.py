"""What one stream API instance holds while it runs: its NATS connection, store and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS
from runwire.event_store import EventStore
from runwire.settings import Settings

from runwire_stream_api.metrics import StreamMetrics


@dataclass
class Runtime:
    """Created by the app's lifespan; nothing in it needs to survive a restart."""

    settings: Settings
    nc: NATS
    store: EventStore
    metrics: StreamMetrics
