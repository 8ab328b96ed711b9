"""The one way tests wait: for a positive condition, bounded, never a sleep standing in for evidence."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar, overload

T = TypeVar("T")

# Polls start quick (most conditions hold within milliseconds) and slow down to this.
FIRST_POLL_SECONDS = 0.005
POLL_SECONDS = 0.05


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | Literal[False] | None]],
    timeout: float = 15.0,
    *,
    failure: Callable[[], str] | None = None,
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | Literal[False] | None],
    timeout: float = 15.0,
    *,
    failure: Callable[[], str] | None = None,
) -> T: ...


async def eventually(
    probe: Callable[[], object],
    timeout: float = 15.0,
    *,
    failure: Callable[[], str] | None = None,
) -> object:
    """Poll `probe` (sync or async) until it returns something other than None or False, and return
    that; after `timeout` seconds fail, saying `failure()` (called then, so it can show what it saw).

    False counts as "not yet" so that a plain predicate (`lambda: len(got) >= 3`) cannot pass at once.
    """
    deadline = time.monotonic() + timeout
    pause = FIRST_POLL_SECONDS
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            detail = f": {failure()}" if failure is not None else ""
            raise AssertionError(f"condition not met within {timeout}s{detail}")
        await asyncio.sleep(pause)
        pause = min(pause * 2, POLL_SECONDS)
