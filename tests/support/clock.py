"""Instants between stored events, for tests of reads that start at a time (`since`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.eventually import eventually

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def instant_after(stored_ns: int) -> datetime:
    """The first microsecond (what `since` resolves) after a store time, once the clock has passed it,
    so that whatever is stored from now on is at or after it, and what was stored before is not."""
    instant = EPOCH + timedelta(microseconds=stored_ns // 1000 + 1)
    return await eventually(lambda: datetime.now(UTC) > instant and instant)
