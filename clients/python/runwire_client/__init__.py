"""runwire-client: resumable streams, publish and export for runwire's stream API, and the `runwire` CLI."""

from runwire_client.backoff import Backoff
from runwire_client.client import AsyncRunwire, Runwire
from runwire_client.errors import RunwireError
from runwire_client.events import Accepted, CloudEvent, Reset, StreamEvent, StreamItem
from runwire_client.token import mint_token

__all__ = [
    "Accepted",
    "AsyncRunwire",
    "Backoff",
    "CloudEvent",
    "Reset",
    "Runwire",
    "RunwireError",
    "StreamEvent",
    "StreamItem",
    "mint_token",
]
