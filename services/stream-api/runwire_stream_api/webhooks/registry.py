"""Webhooks kept in JetStream: records in a key-value bucket, one durable consumer each on EVENTS.

The consumer is the delivery position (its ack floor), the lock (max_ack_pending 1: one event out
at a time, to one instance) and the pause switch (JetStream consumer pause), so every stream API
instance sees the same state and a restart loses none of it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from runwire.contract.filters import EventFilter
from runwire.jetstream.event_store import STREAM_NAME
from runwire.jetstream.key_value import open_bucket
from runwire_stream_api.webhooks.registration import Failures, Webhook

BUCKET: Final = "runwire_webhooks"
API_TIMEOUT: Final = 5.0
# A paused consumer is paused "until" this far ahead: until someone resumes it.
PAUSE_FOR: Final = timedelta(days=365 * 100)


class RegistryError(RuntimeError):
    """JetStream refused a webhook operation (the message is the server's)."""


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _SequenceInfo(msgspec.Struct):
    stream_seq: int = 0
    last_active: datetime | None = None


class ConsumerState(msgspec.Struct):
    """The parts of a consumer's info that make a webhook's status."""

    ack_floor: _SequenceInfo = msgspec.field(default_factory=_SequenceInfo)
    num_pending: int = 0
    num_ack_pending: int = 0
    paused: bool = False
    error: _ApiError | None = None


_record = msgspec.json.Decoder(Webhook)
_failures = msgspec.json.Decoder(Failures)
_consumer_state = msgspec.json.Decoder(ConsumerState)
_encoder = msgspec.json.Encoder()


def _hook_key(project: str, webhook_id: str) -> str:
    return f"hook.{project}.{webhook_id}"


def _failures_key(webhook_id: str) -> str:
    return f"failures.{webhook_id}"


class Registry:
    """The webhooks of every project, shared by every stream API instance."""

    def __init__(self, nc: NATS, bucket: KeyValue) -> None:
        self._nc = nc
        self._kv = bucket

    @classmethod
    async def open(cls, nc: NATS) -> Registry:
        bucket = await open_bucket(
            nc, KeyValueConfig(bucket=BUCKET, description="runwire webhooks: registrations and failures")
        )
        return cls(nc, bucket)

    async def create(self, webhook: Webhook, event_filter: EventFilter, after: int, ack_wait: float) -> None:
        """The consumer, starting after stream sequence `after`, then the record (which makes it live)."""
        subjects = event_filter.subjects()
        config: dict[str, object] = {
            "durable_name": webhook.consumer,
            "description": f"runwire webhook {webhook.id} of project {webhook.project}",
            "deliver_policy": "by_start_sequence",
            "opt_start_seq": after + 1,
            "ack_policy": "explicit",
            "ack_wait": int(ack_wait * 1e9),
            "max_deliver": -1,
            "max_ack_pending": 1,
            "replay_policy": "instant",
        }
        if len(subjects) == 1:
            config["filter_subject"] = subjects[0]
        else:
            config["filter_subjects"] = subjects
        await self._api(
            f"$JS.API.CONSUMER.CREATE.{STREAM_NAME}.{webhook.consumer}",
            {"stream_name": STREAM_NAME, "config": config, "action": "create"},
        )
        await self._kv.put(_hook_key(webhook.project, webhook.id), _encoder.encode(webhook))

    async def get(self, project: str, webhook_id: str) -> Webhook | None:
        try:
            entry = await self._kv.get(_hook_key(project, webhook_id))
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        return _record.decode(entry.value) if entry.value else None

    async def keys(self) -> list[tuple[str, str]]:
        """(project, id) of every registered webhook."""
        try:
            keys = await self._kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        found = []
        for key in keys:
            kind, _, rest = key.partition(".")
            project, _, webhook_id = rest.partition(".")
            if kind == "hook" and project and webhook_id:
                found.append((project, webhook_id))
        return found

    async def of_project(self, project: str) -> list[Webhook]:
        webhooks = []
        for owner, webhook_id in await self.keys():
            if owner == project:
                webhook = await self.get(project, webhook_id)
                if webhook is not None:
                    webhooks.append(webhook)
        return sorted(webhooks, key=lambda w: (w.created_at, w.id))

    async def delete(self, webhook: Webhook) -> None:
        """The record first (instances stop delivering it), then the consumer and its failures."""
        await self._kv.delete(_hook_key(webhook.project, webhook.id))
        with contextlib.suppress(RegistryError):
            await self._api(f"$JS.API.CONSUMER.DELETE.{STREAM_NAME}.{webhook.consumer}", None)
        with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            await self._kv.delete(_failures_key(webhook.id))

    async def failures(self, webhook_id: str) -> Failures:
        try:
            entry = await self._kv.get(_failures_key(webhook_id))
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return Failures()
        return _failures.decode(entry.value) if entry.value else Failures()

    async def record_failures(self, webhook_id: str, failures: Failures) -> None:
        await self._kv.put(_failures_key(webhook_id), _encoder.encode(failures))

    async def consumer_state(self, webhook: Webhook) -> ConsumerState:
        raw = await self._api(f"$JS.API.CONSUMER.INFO.{STREAM_NAME}.{webhook.consumer}", None)
        return _consumer_state.decode(raw)

    async def pause(self, webhook: Webhook) -> None:
        """Stop deliveries to every instance until `resume`."""
        until = (datetime.now(UTC) + PAUSE_FOR).isoformat().replace("+00:00", "Z")
        await self._api(f"$JS.API.CONSUMER.PAUSE.{STREAM_NAME}.{webhook.consumer}", {"pause_until": until})

    async def resume(self, webhook: Webhook) -> None:
        """Deliver again, from the event that exhausted the retries, with a fresh schedule."""
        await self.record_failures(webhook.id, Failures())
        await self._api(f"$JS.API.CONSUMER.PAUSE.{STREAM_NAME}.{webhook.consumer}", {})

    async def _api(self, subject: str, payload: object) -> bytes:
        body = b"" if payload is None else _encoder.encode(payload)
        try:
            reply = await self._nc.request(subject, body, timeout=API_TIMEOUT)
        except nats.errors.Error as exc:
            raise RegistryError(f"JetStream did not answer {subject.split('.')[3].lower()}: {exc}") from exc
        error = msgspec.json.decode(reply.data, type=_Reply).error
        if error is not None:
            raise RegistryError(f"{error.description} (code {error.err_code})")
        return reply.data


class _Reply(msgspec.Struct):
    error: _ApiError | None = None
