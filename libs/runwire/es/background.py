"""Background work keyed by aggregate: at most one task per key, all cancelled when the service stops.

Ingest jobs, agent runs and workflow timers each run as a task while their aggregate is in flight;
keying them makes "start if not running" idempotent, which recovery after a restart relies on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

log = logging.getLogger(__name__)


class KeyedTasks:
    """A set of named asyncio tasks; a finished task frees its key, a crashed one is logged."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._closed = False

    def __contains__(self, key: Hashable) -> bool:
        return key in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run `work()` under `key` unless a task already holds it (or we are stopping); True if started."""
        if self._closed or key in self._tasks:
            return False
        task = asyncio.create_task(work(), name=f"{self._name}:{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return True

    def _finished(self, key: Hashable, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task %s crashed", self._name, key, exc_info=task.exception())

    def cancel(self, key: Hashable) -> None:
        """Cancel the task under `key`, if any (a task never cancels itself this way)."""
        task = self._tasks.get(key)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def cancel_aggregate(self, project: str, aggregate: str) -> None:
        """Cancel every task of one aggregate (keys are tuples beginning with project and aggregate)."""
        for key, task in list(self._tasks.items()):
            if (
                isinstance(key, tuple)
                and key[:2] == (project, aggregate)
                and task is not asyncio.current_task()
            ):
                task.cancel()

    async def aclose(self) -> None:
        """Cancel every task and wait until all have ended (so `contextlib.aclosing` applies)."""
        await self.close()

    async def close(self) -> None:
        """Cancel every task and wait until all have ended."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
