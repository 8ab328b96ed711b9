"""Refusing a WebSocket upgrade with a real HTTP status and a problem+json body.

ASGI's websocket denial response carries it; a server without that extension gets a close code
4000 + status instead. Used by the header limits and by the stream API's WebSocket endpoint.
"""

from __future__ import annotations

import msgspec
from litestar.types import Receive, Scope, Send

from runwire.web.problems import PROBLEM_JSON, ProblemError, problem_of


async def refuse_upgrade(scope: Scope, receive: Receive, send: Send, error: ProblemError) -> None:
    """Answer the pending upgrade with `error` (its headers, e.g. Retry-After, included)."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.close", "code": 4000 + error.status_code, "reason": error.detail[:120]}
        )
        return
    headers = [(b"content-type", PROBLEM_JSON.encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in (error.headers or {}).items()]
    await send({"type": "websocket.http.response.start", "status": error.status_code, "headers": headers})
    body = msgspec.json.encode(problem_of(error, scope["path"]))
    await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
