"""Background work rides out an unavailable store: a cluster electing a leader, a restarting server.

HTTP requests answer 503 at once and let the caller retry; a job's processing, a run's steps, a
workflow's reactions and timers have nobody to retry them, so they retry themselves, with backoff,
for a budget (`RUNWIRE_STORE_RETRY_SECONDS`) before they fail. Each attempt starts from the
aggregate's state, so a retry repeats nothing that was recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from runwire.jetstream.availability import is_unavailable

log = logging.getLogger(__name__)

FIRST_DELAY_SECONDS: Final = 0.2
MAX_DELAY_SECONDS: Final = 2.0
# An attempt that ran this long before failing was working: its outage is a new one, with a new budget.
WORKED_SECONDS: Final = 10.0

T = TypeVar("T")


async def patiently(label: str, attempt: Callable[[], Awaitable[T]], budget_seconds: float) -> T:
    """`attempt()`, again and again while the store is unavailable, for up to `budget_seconds` of one
    outage; other errors, and the last unavailability once the budget is spent, propagate."""
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    delay = FIRST_DELAY_SECONDS
    while True:
        started = loop.time()
        try:
            return await attempt()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            now = loop.time()
            if deadline is None or now - started > WORKED_SECONDS:
                deadline, delay = now + budget_seconds, FIRST_DELAY_SECONDS
            if now >= deadline:
                log.error("%s: the store stayed unavailable for %.0fs; giving up", label, budget_seconds)
                raise
            log.warning("%s: store unavailable (%r); retrying for up to %.0fs", label, exc, deadline - now)
            await asyncio.sleep(min(delay, deadline - now))
            delay = min(delay * 2, MAX_DELAY_SECONDS)
