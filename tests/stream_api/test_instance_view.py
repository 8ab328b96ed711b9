"""The merge rules of the instance view, on figures as workers send them (no processes needed)."""

from __future__ import annotations

import bisect
from typing import Any

from prometheus_client.core import Metric

from runwire.ops.telemetry import LATENCY_BUCKETS
from runwire_stream_api.instance_view import Family, WorkerStats, merge_families, merge_stats
from runwire_stream_api.latency import LatencyWindow

NOW = 1_000_000


def samples(metrics: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in metrics for s in m.samples}


def test_additive_series_are_summed_shared_ones_take_the_max_and_nats_the_min() -> None:
    def worker(deliveries: float, events_in: float, connected: float, bucket: float) -> list[Family]:
        return [
            Family(
                "runwire_stream_deliveries",
                "",
                "counter",
                [("runwire_stream_deliveries_total", {"transport": "sse"}, deliveries)],
            ),
            Family(
                "runwire_stream_events_in", "", "counter", [("runwire_stream_events_in_total", {}, events_in)]
            ),
            Family("runwire_nats_connected", "", "gauge", [("runwire_nats_connected", {}, connected)]),
            Family(
                "runwire_delivery_latency_seconds",
                "",
                "histogram",
                [
                    ("runwire_delivery_latency_seconds_bucket", {"le": "0.1"}, bucket),
                    ("runwire_delivery_latency_seconds_count", {}, bucket),
                ],
            ),
        ]

    merged = samples(merge_families([worker(10, 7, 1, 3), worker(5, 6, 0, 4)]))
    assert merged[("runwire_stream_deliveries_total", (("transport", "sse"),))] == 15
    assert merged[("runwire_stream_events_in_total", ())] == 7
    assert merged[("runwire_nats_connected", ())] == 0
    assert merged[("runwire_delivery_latency_seconds_bucket", (("le", "0.1"),))] == 7
    assert merged[("runwire_delivery_latency_seconds_count", ())] == 7


def test_a_series_only_one_worker_has_is_kept() -> None:
    one = [
        Family(
            "runwire_publish_events",
            "",
            "counter",
            [("runwire_publish_events_total", {"result": "stored"}, 2)],
        )
    ]
    other = [
        Family(
            "runwire_publish_events",
            "",
            "counter",
            [("runwire_publish_events_total", {"result": "duplicate"}, 1)],
        )
    ]
    merged = samples(merge_families([one, other]))
    assert merged == {
        ("runwire_publish_events_total", (("result", "stored"),)): 2,
        ("runwire_publish_events_total", (("result", "duplicate"),)): 1,
    }


def window(*values: float) -> list[tuple[int, list[int], float]]:
    latency = LatencyWindow()
    for value in values:
        latency.add(_index(value), value, NOW)
    return latency.slots()


def _index(value: float) -> int:
    return bisect.bisect_left(list(LATENCY_BUCKETS), value)


def stats(figures: dict[str, Any], position: int, latency: list[tuple[int, list[int], float]]) -> WorkerStats:
    return WorkerStats(figures, position, latency, 10)


def test_stats_sum_counts_take_the_max_of_events_in_and_position_and_pool_latency_buckets() -> None:
    fast = stats(
        {
            "connections": {"sse": 3, "ws": 1, "poll": 0},
            "queue_depth": 2,
            "events_in": 100,
            "deliveries": {"sse": 300},
        },
        100,
        window(*[0.001] * 98),
    )
    slow = stats(
        {
            "connections": {"sse": 2, "ws": 0, "poll": 0},
            "queue_depth": 1,
            "events_in": 99,
            "deliveries": {"sse": 198},
        },
        99,
        window(0.9, 0.9),
    )
    merged = merge_stats([fast, slow], expected=2, now_second=NOW)
    assert merged["connections"] == {"sse": 5, "ws": 1, "poll": 0}
    assert merged["queue_depth"] == 3
    assert merged["events_in"] == 100
    assert merged["deliveries"] == {"sse": 498}
    assert merged["position"] == "100"
    assert merged["workers"] == {"expected": 2, "answering": 2}
    latency: Any = merged["latency"]
    assert latency["count"] == 100
    # From the pooled buckets: 98 fast and 2 slow deliveries put p99 among the slow ones and p50
    # among the fast ones (an average of the two workers' p99s would say neither).
    assert latency["p50"] == 0.001
    assert latency["p99"] == 0.9
    assert latency["max"] == 0.9


def test_seconds_outside_the_window_are_left_out() -> None:
    old = stats({"events_in": 0}, 0, [(NOW - 60, [1] + [0] * 24, 0.0001)])
    merged = merge_stats([stats({"events_in": 0}, 0, []), old], expected=2, now_second=NOW)
    latency: Any = merged["latency"]
    assert latency["count"] == 0
