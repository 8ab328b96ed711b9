"""The size of a published event against what NATS carries: a 413 naming the event, before any is stored.

NATS refuses a message over its server's `max_payload` (1 MiB by default), which the body limit
(8 MiB, for arrays) does not bound. Checked only for bodies big enough to hold such an event, so
the usual publish does not encode its events twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from runwire.contract.envelope import CloudEvent, encode_event
from runwire.web.problems import ProblemError

# Room for what is added on the way to NATS: the message headers and a stamped `time`.
HEADROOM_BYTES: Final = 4096


def check_event_sizes(
    body_size: int, events: Sequence[CloudEvent], max_payload: int, was_array: bool
) -> None:
    """Raise a 413 naming the first event whose stored message would exceed `max_payload`."""
    limit = max_payload - HEADROOM_BYTES
    if body_size <= limit:
        return
    for index, event in enumerate(events):
        size = len(encode_event(event))
        if size > limit:
            raise ProblemError(
                413,
                f"the event is {size} bytes; an event may be at most {limit} bytes (the NATS server's "
                f"max_payload of {max_payload} bytes, less {HEADROOM_BYTES} for headers)",
                kind="payload-too-large",
                title="Payload too large",
                field=f"[{index}]" if was_array else "body",
            )
