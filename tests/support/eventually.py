"""The one way tests wait: for a positive condition, bounded, never a sleep standing in for evidence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
    """Poll `probe` until it returns something other than None (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)
