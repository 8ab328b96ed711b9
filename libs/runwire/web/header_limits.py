"""Limits on request headers, so a client cannot make a service hold megabytes of them: 431 past them.

uvicorn's httptools parser has no limit of its own, so every runwire app checks the parsed headers
before routing reaches auth or a handler. The limits are documented in the README.
"""

from __future__ import annotations

from typing import Final

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from runwire.web.problems import PROBLEM_JSON, TYPE_PREFIX, Problem, ProblemError

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


async def _refuse_upgrade(scope: Scope, receive: Receive, send: Send, error: ProblemError) -> None:
    """Answer a WebSocket upgrade with the 431 as an HTTP response (or a 4431 close without one)."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.close", "code": 4000 + error.status_code, "reason": error.detail[:120]}
        )
        return
    problem = Problem(
        type=TYPE_PREFIX + error.kind,
        title=error.title,
        status=error.status_code,
        detail=error.detail,
        instance=scope["path"],
        field=error.field,
    )
    await send(
        {
            "type": "websocket.http.response.start",
            "status": error.status_code,
            "headers": [(b"content-type", PROBLEM_JSON.encode())],
        }
    )
    await send(
        {"type": "websocket.http.response.body", "body": msgspec.json.encode(problem), "more_body": False}
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
                await _refuse_upgrade(scope, receive, send, error)
                return
        await app(scope, receive, send)

    return middleware
