"""Errors from NATS as answers, never a 500: the store away is a 503 with Retry-After, a message
over the server's max_payload a 413.

Any endpoint can meet the store's absence (a stream read, a key-value get, a command's request);
the handlers here answer all of those the same way, so no route has to remember to.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import nats.errors
from litestar import Request, Response
from litestar.types import ExceptionHandlersMap

from runwire.jetstream.availability import STORE_UNAVAILABLE
from runwire.web.problems import ProblemError, exception_handlers

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 1


def store_unavailable(exc: Exception) -> ProblemError:
    """The 503 answer to `exc` (one of STORE_UNAVAILABLE)."""
    return ProblemError(
        503,
        f"the event store is unavailable; retry shortly ({exc or type(exc).__name__})",
        kind="store-unavailable",
        title="Event store unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("store unavailable on %s %s: %r", request.method, request.url.path, exc)
    response: Response[bytes] = exception_handlers()[ProblemError](request, store_unavailable(exc))
    return response


def _too_large_handler(request: Request[Any, Any, Any], exc: nats.errors.MaxPayloadError) -> Response[bytes]:
    error = ProblemError(
        413,
        "the request would store a NATS message larger than the server's max_payload (1 MiB by default)",
        kind="payload-too-large",
        title="Payload too large",
    )
    response: Response[bytes] = exception_handlers()[ProblemError](request, error)
    return response


def store_error_handlers() -> ExceptionHandlersMap:
    """Exception handlers answering STORE_UNAVAILABLE errors as 503s and MaxPayloadError as a 413."""
    handlers: ExceptionHandlersMap = dict.fromkeys(STORE_UNAVAILABLE, _handler)
    handlers[nats.errors.MaxPayloadError] = _too_large_handler
    return handlers
