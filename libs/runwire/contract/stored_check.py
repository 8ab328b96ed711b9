"""Whether a stored message is an event of this contract, so it may be served or folded.

Producers can write anything to NATS (`events.>` is open to raw publishers): what was stored is
checked against the envelope and against its own subject before anyone reads it as an event.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from enum import StrEnum
from typing import Final, NamedTuple, Protocol

import msgspec

from runwire.contract.envelope import CloudEvent, decode_event

log = logging.getLogger(__name__)

DETAIL_LIMIT: Final = 200
REPORTED_LIMIT: Final = 4096


class StoredMessage(Protocol):
    """What the check needs of a stored message (the JetStream adapter's messages have it)."""

    @property
    def seq(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...


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


_reported: OrderedDict[int, None] = OrderedDict()


def stored_event(message: StoredMessage) -> CloudEvent | None:
    """For the domain services' reads: the event, or None (logged once) so that folds skip junk.

    The stream API keeps its own per-instance verdicts and metric (runwire_stream_api.verdicts).
    """
    verdict = check_stored(message.subject, message.data)
    if not isinstance(verdict, Rejected):
        return verdict
    if message.seq not in _reported:
        _reported[message.seq] = None
        if len(_reported) > REPORTED_LIMIT:
            _reported.popitem(last=False)
        log.warning(
            "skipped stored message %d (%d bytes): %s: %s",
            message.seq,
            len(message.data),
            verdict.reason.value,
            verdict.detail,
        )
    return None
