"""Connecting to NATS the same way in every runwire process."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)


async def connect_nats(servers: list[str], name: str) -> NATS:
    """A connection that reconnects forever: a broker restart must not end a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats (%s): %s", name, exc)

    async def on_disconnected() -> None:
        log.warning("nats (%s): disconnected", name)

    async def on_reconnected() -> None:
        log.info("nats (%s): reconnected", name)

    return await nats.connect(
        servers=servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        pending_size=64 * 1024 * 1024,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
