"""Runs a courier for every registered webhook in this instance, following the registry.

Every instance runs one per webhook; the webhook's consumer (max_ack_pending 1) lets only one of
them hold an event at a time, so delivery stays in order and moves to another instance when one
dies. New and deleted webhooks are picked up within `RECONCILE_SECONDS` (at once on the instance
that registered or deleted them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import httpx
import nats.errors
from nats.aio.client import Client as NATS

from runwire.jetstream.stream_reader import StoredMessage
from runwire.ops.settings import Settings
from runwire_stream_api.webhooks.courier import Courier
from runwire_stream_api.webhooks.registration import Webhook
from runwire_stream_api.webhooks.registry import Registry, RegistryError

log = logging.getLogger(__name__)

RECONCILE_SECONDS: Final = 2.0


class Dispatcher:
    """The couriers of this instance, keyed by webhook id."""

    def __init__(
        self, nc: NATS, registry: Registry, settings: Settings, servable: Callable[[StoredMessage], bool]
    ) -> None:
        self._nc = nc
        self.registry = registry
        self._settings = settings
        self._servable = servable
        self._http = httpx.AsyncClient(
            timeout=settings.webhooks_timeout_seconds, follow_redirects=False, trust_env=False
        )
        self._couriers: dict[str, asyncio.Task[None]] = {}
        self._follower: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._follower = asyncio.create_task(self._follow(), name="runwire-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._follower, *self._couriers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._couriers.clear()
        await self._http.aclose()

    def deliver(self, webhook: Webhook) -> None:
        """Start delivering a webhook here (idempotent)."""
        task = self._couriers.get(webhook.id)
        if task is not None and not task.done():
            return
        courier = Courier(
            self._nc,
            self.registry,
            self._http,
            webhook,
            retry_delays=self._settings.webhooks_retry_delays,
            lease_seconds=self._settings.lease_seconds,
            allow_private=self._settings.webhooks_allow_private,
            servable=self._servable,
        )
        task = asyncio.create_task(courier.run(), name=f"runwire-webhook-{webhook.id}")
        task.add_done_callback(_report_crash)
        self._couriers[webhook.id] = task

    def forget(self, webhook_id: str) -> None:
        """Stop delivering a deleted webhook here."""
        task = self._couriers.pop(webhook_id, None)
        if task is not None:
            task.cancel()

    async def _follow(self) -> None:
        while True:
            try:
                await self._reconcile()
            except (nats.errors.Error, RegistryError, OSError) as exc:
                log.warning("webhooks: could not read the registry: %s", exc)
            await asyncio.sleep(RECONCILE_SECONDS)

    async def _reconcile(self) -> None:
        registered = {webhook_id: project for project, webhook_id in await self.registry.keys()}
        for webhook_id in list(self._couriers):
            if webhook_id not in registered:
                self.forget(webhook_id)
        for webhook_id, project in registered.items():
            task = self._couriers.get(webhook_id)
            if task is None or task.done():
                webhook = await self.registry.get(project, webhook_id)
                if webhook is not None:
                    self.deliver(webhook)


def _report_crash(task: asyncio.Task[None]) -> None:
    """A courier that failed unexpectedly is logged (and started again by the next reconcile)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("webhooks: %s stopped; restarting it", task.get_name(), exc_info=exc)
