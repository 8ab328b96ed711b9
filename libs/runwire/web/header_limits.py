"""Limits on request headers, so a client cannot make a service hold megabytes of them: 431 past them.

uvicorn's httptools parser has no limit of its own, so every runwire app checks the parsed headers
before routing reaches auth or a handler. The limits are documented in the README.
"""

from __future__ import annotations

from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from runwire.web.problems import ProblemError
from runwire.web.upgrade_refusal import refuse_upgrade

MAX_HEADER_LINE_BYTES: Final = 8 * 1024
MAX_HEADER_TOTAL_BYTES: Final = 64 * 1024
MAX_HEADER_COUNT: Final = 100


def _too_large(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(
        431, detail, kind="headers-too-large", title="Request header fields too large", field=field
    )


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Raise a 431 naming the limit that `headers` (ASGI's raw list) goes past."""
    if len(headers) > MAX_HEADER_COUNT:
        raise _too_large(f"{len(headers)} header fields; at most {MAX_HEADER_COUNT} are accepted")
    total = 0
    for name, value in headers:
        line = len(name) + len(value) + 2
        if line > MAX_HEADER_LINE_BYTES:
            shown = name.decode("latin-1")[:64]
            raise _too_large(
                f"header {shown} is {line} bytes; at most {MAX_HEADER_LINE_BYTES} per header field", shown
            )
        total += line
    if total > MAX_HEADER_TOTAL_BYTES:
        raise _too_large(
            f"the header fields total {total} bytes; at most {MAX_HEADER_TOTAL_BYTES} are accepted"
        )


def header_limits(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: HTTP requests and WebSocket upgrades over the limits end here."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            check_headers(list(scope["headers"]))
        elif scope["type"] == ScopeType.WEBSOCKET:
            try:
                check_headers(list(scope["headers"]))
            except ProblemError as error:
                await refuse_upgrade(scope, receive, send, error)
                return
        await app(scope, receive, send)

    return middleware
