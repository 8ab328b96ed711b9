"""Which failures mean "the store is away for now" (a restart, a cluster's leader election) rather than
"this request is wrong": the first are answered with 503 + Retry-After and retried by background work.
"""

from __future__ import annotations

from typing import Final

import nats.errors
import nats.js.errors

from runwire.jetstream.event_store import StoreError
from runwire.jetstream.stream_reader import StreamReadError

STORE_UNAVAILABLE: Final[tuple[type[Exception], ...]] = (
    StoreError,
    StreamReadError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.StaleConnectionError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)
"""Exception types that may mean the store is away (`is_unavailable` tells for sure)."""

# JetStream API answers that mean "no leader / not ready yet" (a cluster electing, a server starting):
# cluster not active, JetStream temporarily unavailable, stream not found, stream or consumer offline.
_UNAVAILABLE_ERR_CODES: Final = frozenset({10006, 10008, 10059, 10118, 10119})


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the store could not be reached or had no leader (worth retrying later)."""
    if isinstance(exc, StoreError):
        return exc.retryable or exc.code >= 500 or exc.err_code in _UNAVAILABLE_ERR_CODES
    if isinstance(exc, StreamReadError):
        return exc.code >= 500 or exc.code == 408 or exc.err_code in _UNAVAILABLE_ERR_CODES
    if isinstance(exc, nats.js.errors.APIError):
        return (
            isinstance(exc, nats.js.errors.ServiceUnavailableError)
            or (exc.code or 0) >= 500
            or (exc.err_code or 0) in _UNAVAILABLE_ERR_CODES
        )
    return isinstance(exc, (*STORE_UNAVAILABLE, TimeoutError))
