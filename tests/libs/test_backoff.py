"""Restart delays of `make run`'s children: 1 s, doubling up to 30 s, back to 1 s after a good minute."""

from __future__ import annotations

from runwire_dev.backoff import Backoff


def test_a_crash_loop_waits_1_s_then_doubles_up_to_30_s() -> None:
    backoff = Backoff()
    assert [backoff.delay(uptime=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_ran_for_a_minute_is_restarted_after_1_s_again() -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.delay(uptime=0.5)
    assert backoff.delay(uptime=60.0) == 1
    assert backoff.delay(uptime=0.5) == 2
