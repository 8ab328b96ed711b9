"""Delivery and receive latency: cheap enough to record for every delivery on the hot path.

Each observation is a bisect and two increments: a cumulative histogram per (transport, project label)
for Prometheus, and a per-second ring over the last seconds for the live percentiles that the
dashboard shows. OpenTelemetry histograms get the same values only while telemetry is enabled.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Sequence
from typing import Final

from opentelemetry.metrics import Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from runwire.ops.telemetry import LATENCY_BUCKETS, Telemetry
from runwire_stream_api.frames import Frame

WINDOW_SECONDS: Final = 10
# The `project` label: one value for all projects unless RUNWIRE_METRICS_PROJECT_LABELS asks for
# per-project series, which are then capped so that a scrape never grows with the tenants.
ALL_PROJECTS: Final = "_all"
OTHER_PROJECTS: Final = "_other"
MAX_PROJECT_LABELS: Final = 100
_BOUNDS: Final = list(LATENCY_BUCKETS)


class _Cumulative:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_BOUNDS) + 1)
        self.count = 0
        self.total = 0.0


class _Series(_Cumulative):
    __slots__ = ("attributes",)

    def __init__(self, attributes: dict[str, str]) -> None:
        super().__init__()
        self.attributes = attributes


class _Second:
    __slots__ = ("buckets", "count", "max", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.buckets = [0] * (len(_BOUNDS) + 1)
        self.count = 0
        self.max = 0.0


class LatencyWindow:
    """Percentiles over the last WINDOW_SECONDS, from per-second bucket counts."""

    def __init__(self, seconds: int = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._ring: list[_Second] = [_Second(-1) for _ in range(seconds)]

    def _slot(self, second: int) -> _Second:
        slot = self._ring[second % self.seconds]
        if slot.second != second:
            slot.second = second
            slot.buckets = [0] * (len(_BOUNDS) + 1)
            slot.count = 0
            slot.max = 0.0
        return slot

    def add(self, index: int, value: float, second: int, count: int = 1) -> None:
        slot = self._slot(second)
        slot.buckets[index] += count
        slot.count += count
        if value > slot.max:
            slot.max = value

    def summary(self, now_second: int | None = None) -> dict[str, float | int | None]:
        """count, p50, p95, p99 (bucket upper bounds) and max over the window."""
        current = int(time.time()) if now_second is None else now_second
        live = [s for s in self._ring if current - self.seconds < s.second <= current]
        buckets = [sum(s.buckets[i] for s in live) for i in range(len(_BOUNDS) + 1)]
        count = sum(buckets)
        worst = max((s.max for s in live), default=0.0)
        return {
            "window_seconds": self.seconds,
            "count": count,
            "p50": _quantile(buckets, count, 0.50, worst),
            "p95": _quantile(buckets, count, 0.95, worst),
            "p99": _quantile(buckets, count, 0.99, worst),
            "max": worst if count else None,
        }

    def slots(self) -> list[tuple[int, list[int], float]]:
        """The seconds held now as (second, bucket counts, max): what a worker sends its siblings."""
        return [(s.second, list(s.buckets), s.max) for s in self._ring if s.second >= 0 and s.count]

    def absorb(self, slots: list[tuple[int, list[int], float]], now_second: int) -> None:
        """Add another window's seconds (another worker's) to this one, so that percentiles are taken
        over the merged bucket counts, never averaged; seconds outside the window are left out."""
        for second, buckets, worst in slots:
            if not now_second - self.seconds < second <= now_second or len(buckets) != len(_BOUNDS) + 1:
                continue
            slot = self._slot(second)
            slot.buckets = [mine + theirs for mine, theirs in zip(slot.buckets, buckets, strict=True)]
            slot.count += sum(buckets)
            slot.max = max(slot.max, worst)


def _quantile(buckets: list[int], count: int, q: float, worst: float) -> float | None:
    if count == 0:
        return None
    rank = q * count
    seen = 0
    for index, bucket_count in enumerate(buckets):
        seen += bucket_count
        if seen >= rank:
            return min(_BOUNDS[index], worst) if index < len(_BOUNDS) else worst
    return worst


class LatencyRecorder(Collector):
    """`runwire_delivery_latency_seconds{transport,project}` and
    `runwire_stream_receive_latency_seconds`, plus the live window of delivery latency."""

    def __init__(self, telemetry: Telemetry, *, project_labels: bool = False) -> None:
        self._delivery: dict[tuple[str, str], _Series] = {}
        self._project_labels = project_labels
        self._labelled_projects: set[str] = set()
        self._receive = _Cumulative()
        self.window = LatencyWindow()
        self._otel_delivery: Histogram | None = None
        self._otel_receive: Histogram | None = None
        if telemetry.enabled:
            self._otel_delivery = telemetry.meter.create_histogram(
                "runwire.delivery.latency", unit="s", description="Event publish time to socket write"
            )
            self._otel_receive = telemetry.meter.create_histogram(
                "runwire.stream.receive.latency",
                unit="s",
                description="Event publish time to receipt by the stream API's live consumer",
            )

    def series(self, transport: str, project: str) -> _Series:
        """The histogram series of one (transport, project): clients keep it to skip lookups."""
        key = (transport, self._project_label(project))
        found = self._delivery.get(key)
        if found is None:
            attributes = {"transport": transport, "project": key[1]}
            found = self._delivery[key] = _Series(attributes)
        return found

    def _project_label(self, project: str) -> str:
        """The `project` label value: bounded, so series do not grow with tenants or list them."""
        if not self._project_labels:
            return ALL_PROJECTS
        if project in self._labelled_projects or len(self._labelled_projects) < MAX_PROJECT_LABELS:
            self._labelled_projects.add(project)
            return project
        return OTHER_PROJECTS

    def delivered(self, series: _Series, batch: Sequence[Frame], now_ns: int, since_ns: int) -> None:
        """Record one socket write of `batch`, counting the events stored at or after `since_ns`."""
        second = now_ns // 1_000_000_000
        buckets = series.buckets
        window_add = self.window.add
        otel = self._otel_delivery
        for frame in batch:
            if frame.stored_ns < since_ns:
                continue  # history the client asked to replay is not latency
            value = max(0.0, (now_ns - frame.published_ns) / 1e9)
            index = bisect.bisect_left(_BOUNDS, value)
            buckets[index] += 1
            series.count += 1
            series.total += value
            window_add(index, value, second)
            if otel is not None:
                otel.record(value, series.attributes)

    def delivered_to(self, series: _Series, frame: Frame, now_ns: int, recipients: int) -> None:
        """Record one live event written to `recipients` sockets at `now_ns` (by the fan-out).

        OpenTelemetry's histogram takes one observation per call and no weight: it gets one per
        event here (the value every recipient saw), the Prometheus series one per delivery."""
        value = max(0.0, (now_ns - frame.published_ns) / 1e9)
        index = bisect.bisect_left(_BOUNDS, value)
        series.buckets[index] += recipients
        series.count += recipients
        series.total += value * recipients
        self.window.add(index, value, now_ns // 1_000_000_000, recipients)
        if self._otel_delivery is not None:
            self._otel_delivery.record(value, series.attributes)

    def received(self, published_ns: int, received_ns: int) -> None:
        """Record the live consumer's receipt of one event."""
        value = max(0.0, (received_ns - published_ns) / 1e9)
        receive = self._receive
        receive.buckets[bisect.bisect_left(_BOUNDS, value)] += 1
        receive.count += 1
        receive.total += value
        if self._otel_receive is not None:
            self._otel_receive.record(value)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        delivery = HistogramMetricFamily(
            "runwire_delivery_latency_seconds",
            "Seconds from an event's publish time to its write to a client's socket",
            labels=["transport", "project"],
        )
        for (transport, project), cumulative in sorted(self._delivery.items()):
            delivery.add_metric([transport, project], _prometheus_buckets(cumulative), cumulative.total)
        yield delivery
        receive = HistogramMetricFamily(
            "runwire_stream_receive_latency_seconds",
            "Seconds from an event's publish time to its receipt by the stream API's live consumer",
        )
        receive.add_metric([], _prometheus_buckets(self._receive), self._receive.total)
        yield receive


def _prometheus_buckets(cumulative: _Cumulative) -> list[tuple[str, float]]:
    running = 0
    out: list[tuple[str, float]] = []
    for bound, count in zip([*map(repr, _BOUNDS), "+Inf"], cumulative.buckets, strict=True):
        running += count
        out.append((bound, float(running)))
    return out
