"""Background work waits out an unavailable store for its budget, and no longer (es.patience)."""

from __future__ import annotations

import asyncio

import pytest

from runwire.contract.rejections import InvalidTransition
from runwire.es.patience import patiently
from runwire.jetstream.event_store import StoreError


class Flaky:
    """Fails with `error` for its first `failures` calls, then answers how many calls it took."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


async def test_work_is_retried_while_the_store_is_unavailable() -> None:
    attempt = Flaky(3, StoreError("JetStream is not available", retryable=True))
    assert await patiently("work", attempt, budget_seconds=10) == 4


async def test_an_unavailable_store_past_the_budget_fails_the_work() -> None:
    attempt = Flaky(1000, TimeoutError())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await patiently("work", attempt, budget_seconds=1.0)
    assert 1.0 <= loop.time() - started < 2.5
    assert attempt.calls > 2


async def test_other_errors_are_not_retried() -> None:
    attempt = Flaky(1, InvalidTransition("no"))
    with pytest.raises(InvalidTransition):
        await patiently("work", attempt, budget_seconds=10)
    assert attempt.calls == 1


async def test_a_refused_append_is_not_retried() -> None:
    attempt = Flaky(1, StoreError("append refused: maximum payload exceeded", code=400, err_code=10054))
    with pytest.raises(StoreError):
        await patiently("work", attempt, budget_seconds=10)
    assert attempt.calls == 1
