"""What a webhook is: the registration a client sends, the record kept, and the views answered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from runwire.contract.filters import MAX_AGGREGATES, MAX_TYPES
from runwire.contract.undecodable import UNDECODABLE, undecodable_reason

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, description="http(s) URL to POST events to")]


class WebhookRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A registration: where to POST, which events (the stream's filters), and where to start."""

    url: Url
    types: Annotated[
        list[str], msgspec.Meta(max_length=MAX_TYPES, description="Type patterns (`*`, `>`); none: all")
    ] = msgspec.field(default_factory=list)
    aggregates: Annotated[
        list[str], msgspec.Meta(max_length=MAX_AGGREGATES, description="Aggregate ids; none: all")
    ] = msgspec.field(default_factory=list)
    from_: Annotated[
        str,
        msgspec.Meta(
            max_length=40,
            description="`latest` (events stored from now on), `earliest`, or a cursor to start after",
        ),
    ] = msgspec.field(default="latest", name="from")


class RequestError(ValueError):
    """A registration body that is not a WebhookRequest: `field` names the member at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_request = msgspec.json.Decoder(WebhookRequest)


def decode_request(body: bytes) -> WebhookRequest:
    """The registration in `body`, or RequestError naming the top-level member that is wrong."""
    try:
        return _request.decode(body)
    except UNDECODABLE as exc:
        raise RequestError("body", undecodable_reason(exc)) from exc
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
        if "unknown field" in message or "missing required field" in message:
            name = message.split("`")[1]
            raise RequestError(
                name, "is not a member of a registration" if "unknown" in message else "is required"
            ) from exc
        path = at.rstrip("`").lstrip(".")
        name = path.split("[", 1)[0].split(".", 1)[0] or "body"
        raise RequestError(name, message) from exc
    except msgspec.DecodeError as exc:
        raise RequestError("body", f"malformed JSON ({exc})") from exc


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """The stored record, secret included (it never leaves the server except in the 201)."""

    id: str
    project: str
    url: str
    types: tuple[str, ...]
    aggregates: tuple[str, ...]
    secret: str
    created_at: datetime

    @property
    def consumer(self) -> str:
        """The name of its JetStream durable consumer, shared by every stream API instance."""
        return consumer_name(self.id)


def consumer_name(webhook_id: str) -> str:
    return f"runwire-webhook-{webhook_id}"


class Failures(msgspec.Struct, frozen=True, kw_only=True):
    """Consecutive failed attempts at the webhook's current event (kept in JetStream: any instance
    carries the retry schedule on)."""

    count: int = 0
    last_error: str | None = None
    last_failure_at: datetime | None = None


class DeliveryStatus(msgspec.Struct, kw_only=True):
    """Where delivery stands."""

    position: str
    """Cursor of the last event acknowledged by the receiver (or skipped): delivery resumes after it."""
    pending: int
    """Matching events stored after `position`, not yet delivered."""
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    last_failure_at: datetime | None
    paused: bool
    """After every retry failed; `POST .../resume` delivers again from `position`."""


class WebhookView(msgspec.Struct, kw_only=True):
    """A webhook as listed: never its secret."""

    id: str
    url: str
    types: list[str]
    aggregates: list[str]
    created_at: datetime
    status: DeliveryStatus


class CreatedWebhook(msgspec.Struct, kw_only=True):
    """The answer to a registration: the only time the signing secret is shown."""

    id: str
    url: str
    types: list[str]
    aggregates: list[str]
    created_at: datetime
    secret: str
    """Standard Webhooks secret (`whsec_<base64>`): verify `webhook-signature` with it."""
    position: str
    """Delivery starts after this cursor."""


class WebhookList(msgspec.Struct):
    webhooks: list[WebhookView]
