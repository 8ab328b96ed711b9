"""The demo behaves as runwire asks its clients to: a 503 with Retry-After (the store electing a
leader, NATS restarting) or a refused connection (a service restarting under `make run`) is retried
after the advised pause, for a bounded time, instead of failing the whole run.

Only safe to retry because every request the demo sends is idempotent: GETs, creates with an
Idempotency-Key, and approvals that the service accepts once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import httpx

RETRY_LIMIT_SECONDS: Final = 60.0
DEFAULT_PAUSE_SECONDS: Final = 1.0
MAX_PAUSE_SECONDS: Final = 5.0


def advised_pause(response: httpx.Response) -> float:
    """The pause a 503 asks for (`Retry-After` in seconds), bounded."""
    try:
        return min(
            MAX_PAUSE_SECONDS, max(0.1, float(response.headers.get("Retry-After", DEFAULT_PAUSE_SECONDS)))
        )
    except ValueError:
        return DEFAULT_PAUSE_SECONDS


class RetryingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that retries 503s and refused connections for up to `limit_seconds`."""

    def __init__(self, limit_seconds: float = RETRY_LIMIT_SECONDS) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._limit = limit_seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._limit
        body = await request.aread()
        while True:
            retry = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            try:
                response = await self._inner.handle_async_request(retry)
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(DEFAULT_PAUSE_SECONDS)
                continue
            if response.status_code != 503 or time.monotonic() > deadline:
                return response
            await response.aread()
            await response.aclose()
            await asyncio.sleep(advised_pause(response))

    async def aclose(self) -> None:
        await self._inner.aclose()
