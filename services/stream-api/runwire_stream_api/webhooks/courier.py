"""Delivers one webhook's events, one at a time, in stream order, until each is acknowledged.

It pulls from the webhook's durable consumer (max_ack_pending 1): whichever instance holds the
current event delivers it, keeping it with progress acks while it POSTs and waits between
retries; it acks only after a 2xx, so a killed instance's event is redelivered, never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import httpx
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from runwire.contract.filters import EventFilter, make_filter
from runwire.contract.subjects import parse_unchecked
from runwire.jetstream.event_store import STREAM_NAME
from runwire.jetstream.stream_reader import StoredMessage
from runwire_stream_api.webhooks.registration import Failures, Webhook
from runwire_stream_api.webhooks.registry import Registry, RegistryError
from runwire_stream_api.webhooks.signing import signed_headers
from runwire_stream_api.webhooks.targets import TargetRefused, check_target

log = logging.getLogger(__name__)

FETCH_WAIT_SECONDS: Final = 5.0
ERROR_PAUSE_SECONDS: Final = 1.0
ERROR_DETAIL: Final = 200
CONTENT_TYPE: Final = "application/cloudevents+json"
USER_AGENT: Final = "runwire-webhooks/1"


class Courier:
    """The delivery loop of one webhook in this instance (every instance runs one per webhook)."""

    def __init__(
        self,
        nc: NATS,
        registry: Registry,
        http: httpx.AsyncClient,
        webhook: Webhook,
        *,
        retry_delays: tuple[float, ...],
        lease_seconds: float,
        allow_private: bool,
        servable: Callable[[StoredMessage], bool],
    ) -> None:
        self._nc = nc
        self._registry = registry
        self._http = http
        self.webhook = webhook
        self._filter: EventFilter = make_filter(webhook.project, webhook.types, webhook.aggregates)
        self._delays = retry_delays
        self._lease = lease_seconds
        self._allow_private = allow_private
        self._servable = servable
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def run(self) -> None:
        """Pull and deliver until cancelled or the webhook is deleted."""
        try:
            await self._pull()
        finally:
            if self._subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await self._subscription.unsubscribe()

    async def _pull(self) -> None:
        subscription = None
        while True:
            try:
                if subscription is None:
                    js = self._nc.jetstream(timeout=FETCH_WAIT_SECONDS)
                    subscription = await js.pull_subscribe_bind(self.webhook.consumer, STREAM_NAME)
                    self._subscription = subscription
                try:
                    messages = await subscription.fetch(1, timeout=FETCH_WAIT_SECONDS)
                except nats.errors.TimeoutError:
                    continue
                for message in messages:
                    await self._deliver(message)
            except asyncio.CancelledError:
                raise
            except (nats.errors.Error, RegistryError, OSError) as exc:
                if await self._registry.get(self.webhook.project, self.webhook.id) is None:
                    return  # deleted
                log.warning("webhook %s: delivery paused %ss: %s", self.webhook.id, ERROR_PAUSE_SECONDS, exc)
                if subscription is not None:
                    with contextlib.suppress(nats.errors.Error):
                        await subscription.unsubscribe()
                    subscription = self._subscription = None
                await asyncio.sleep(ERROR_PAUSE_SECONDS)

    async def _deliver(self, message: Msg) -> None:
        """POST one event until a 2xx, or pause the webhook when the retry schedule is exhausted."""
        seq = message.metadata.sequence.stream
        stored = StoredMessage(seq, message.subject, message.data, None, 0)
        if not self._servable(stored) or not self._filter.matches(parse_unchecked(message.subject)):
            await message.ack_sync()  # not a servable event of this filter: move past it
            return
        keeper = asyncio.create_task(self._keep(message), name=f"runwire-webhook-keep-{self.webhook.id}")
        try:
            failures = await self._registry.failures(self.webhook.id)
            while True:
                error = await self._attempt(seq, message.data)
                if error is None:
                    await message.ack_sync()
                    if failures.count:
                        await self._registry.record_failures(self.webhook.id, Failures())
                    return
                failures = Failures(
                    count=failures.count + 1, last_error=error, last_failure_at=datetime.now(UTC)
                )
                await self._registry.record_failures(self.webhook.id, failures)
                if failures.count > len(self._delays):
                    log.warning(
                        "webhook %s paused after %d failed attempts at cursor %d: %s",
                        self.webhook.id,
                        failures.count,
                        seq,
                        error,
                    )
                    await self._registry.pause(self.webhook)
                    await message.nak()  # delivered again, first, when resumed
                    return
                await asyncio.sleep(self._delays[failures.count - 1])
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _attempt(self, seq: int, body: bytes) -> str | None:
        """One signed POST of the stored bytes: None on a 2xx, else why it failed."""
        try:
            await check_target(self.webhook.url, allow_private=self._allow_private)
        except TargetRefused as exc:
            return f"target refused: {exc}"
        message_id = f"{self.webhook.id}_{seq}"
        headers = signed_headers(self.webhook.secret, message_id, int(time.time()), body)
        headers["content-type"] = CONTENT_TYPE
        headers["user-agent"] = USER_AGENT
        try:
            response = await self._http.post(self.webhook.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return "timed out"
        except httpx.HTTPError as exc:
            return _short(f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def _keep(self, message: Msg) -> None:
        """Progress acks while the event is held, so no other instance takes it over."""
        while True:
            await asyncio.sleep(self._lease / 3)
            with contextlib.suppress(nats.errors.Error):
                await message.in_progress()


def _short(text: str) -> str:
    return text if len(text) <= ERROR_DETAIL else text[:ERROR_DETAIL] + "…"
