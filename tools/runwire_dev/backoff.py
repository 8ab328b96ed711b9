"""Restart delays of `make run`'s children: quick for a one-off crash, slow for a crash loop.

A child that keeps dying must not spin the machine; one that ran well for a while and then died
is a new incident and starts again after the shortest delay.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
HEALTHY_SECONDS = 60.0


@dataclass
class Backoff:
    """The delays before one child's successive restarts: 1 s, doubling up to 30 s, reset after a
    child has run for a minute."""

    first: float = FIRST_DELAY_SECONDS
    ceiling: float = MAX_DELAY_SECONDS
    healthy_after: float = HEALTHY_SECONDS
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.first

    def delay(self, uptime: float) -> float:
        """The delay before restarting a child that exited after running `uptime` seconds."""
        if uptime >= self.healthy_after:
            self._next = self.first
        delay = self._next
        self._next = min(delay * 2, self.ceiling)
        return delay
