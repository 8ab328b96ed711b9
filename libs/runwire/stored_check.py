"""Whether a stored message is an event of this contract, so it may be served or folded.

Producers can write anything to NATS (`events.>` is open to raw publishers): what was stored is
checked against the envelope and against its own subject before anyone reads it as an event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

import msgspec

from runwire.envelope import CloudEvent, decode_event

DETAIL_LIMIT: Final = 200


class Invalid(StrEnum):
    """Why a stored message is not served: a small, fixed set (a metric label)."""

    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    SUBJECT_MISMATCH = "subject_mismatch"


class Rejected(NamedTuple):
    """A stored message that is not an event: the reason and a short detail (never the body)."""

    reason: Invalid
    detail: str


def check_stored(subject: str, data: bytes) -> CloudEvent | Rejected:
    """The event stored under `events.<project>.<aggregate>.<type>`, or why it is not one."""
    try:
        event = decode_event(data)
    except (ValueError, RecursionError) as exc:  # EnvelopeError; invalid UTF-8; nesting too deep
        return Rejected(_decode_failure(data), _short(str(exc)))
    parts = subject.split(".", 3)
    if len(parts) != 4 or parts[1] != event.project or parts[2] != event.aggregate or parts[3] != event.type:
        return Rejected(
            Invalid.SUBJECT_MISMATCH,
            _short(f"the event names events.{event.project}.{event.aggregate}.{event.type}"),
        )
    return event


def _decode_failure(data: bytes) -> Invalid:
    """Not JSON at all, or JSON that is not a CloudEvent (only on the error path: a second parse)."""
    try:
        msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return Invalid.NOT_JSON
    except RecursionError:
        return Invalid.NOT_CLOUDEVENT
    return Invalid.NOT_CLOUDEVENT


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"
