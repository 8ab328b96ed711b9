"""How long to wait before trying again: exponential with jitter, from the server's `retry:` when given."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays double per consecutive failure up to `max_delay`, each drawn in [d/2, d] so that many
    clients cut off together do not come back together."""

    initial: float = 0.5
    max_delay: float = 30.0
    failures: int = 0

    def failed(self, base: float | None = None, at_least: float | None = None) -> float:
        """Count a failure; the delay before the next attempt (`at_least`: a Retry-After)."""
        start = self.initial if base is None else base
        delay = min(self.max_delay, start * 2 ** min(self.failures, 16))
        self.failures += 1
        jittered = random.uniform(delay / 2, delay)
        return max(jittered, at_least) if at_least is not None else jittered

    def succeeded(self) -> None:
        self.failures = 0
