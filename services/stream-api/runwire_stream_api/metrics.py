"""The stream API's Prometheus metrics, on a registry of its own (one per app instance)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from runwire.contract.stored_check import Invalid

TRANSPORTS = ("sse", "ws", "poll")

disable_created_metrics()  # type: ignore[no-untyped-call]  # the `_created` samples double the exposition for no reader's benefit


class StreamMetrics:
    """Counters and gauges exported at /metrics; gauges of live state are read at scrape time."""

    # Text format 0.0.4, which every Prometheus release reads. No charset here: Litestar appends
    # `; charset=utf-8` to text/* types, and a second one makes Go's media-type parser refuse it.
    content_type = "text/plain; version=0.0.4"

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.nats_connected = Gauge("runwire_nats_connected", "1 when the NATS connection is up", registry=r)
        self.connections = Gauge(
            "runwire_stream_connections", "Open streams by transport", ["transport"], registry=r
        )
        # Counted on hot paths (every event, every socket write): plain integers read at scrape time.
        self.events_in = Tally()
        r.register(
            _TallyCollector(
                "runwire_stream_events_in", "Events read from the live tail of EVENTS", {"": self.events_in}
            )
        )
        self.deliveries = {transport: Tally() for transport in TRANSPORTS}
        r.register(
            _TallyCollector(
                "runwire_stream_deliveries",
                "Events written to clients, by transport",
                self.deliveries,
                "transport",
            )
        )
        self.queue_depth = Gauge(
            "runwire_stream_queue_depth", "Events queued for clients, summed over clients", registry=r
        )
        self.catch_up_clients = Gauge(
            "runwire_stream_catch_up_clients",
            "Clients reading from JetStream instead of the fan-out",
            registry=r,
        )
        self.catch_ups = Counter(
            "runwire_stream_catch_ups",
            "Times a client started reading from JetStream (replay on connect or falling behind)",
            ["transport"],
            registry=r,
        )
        self.published = Counter(
            "runwire_publish_events", "Events accepted by HTTP publish, by result", ["result"], registry=r
        )
        self.publish_rejected = Counter(
            "runwire_publish_rejected", "HTTP publish requests refused, by reason", ["reason"], registry=r
        )
        self.connections_refused = Counter(
            "runwire_stream_connections_refused", "Streams refused, by reason", ["reason"], registry=r
        )
        self.invalid_events = Counter(
            "runwire_stream_invalid_events",
            "Stored messages never served (not a CloudEvent of its subject: raw NATS producers), by reason",
            ["reason"],
            registry=r,
        )
        for transport in TRANSPORTS:
            self.catch_ups.labels(transport)
        for reason in Invalid:
            self.invalid_events.labels(reason.value)
        self._collectors: list[Callable[[], None]] = []

    def on_scrape(self, collect: Callable[[], None]) -> None:
        """Run `collect` before each render, to set gauges from live state."""
        self._collectors.append(collect)

    def collect(self) -> list[Metric]:
        """The families that `render` writes, live gauges set: what a worker sends its siblings."""
        for collect in self._collectors:
            collect()
        return list(self.registry.collect())

    def render(self) -> bytes:
        for collect in self._collectors:
            collect()
        return generate_latest(self.registry)


class Tally:
    """A counter for hot paths: a plain integer, with no lock or label lookup per increment."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class _TallyCollector(Collector):
    def __init__(
        self, name: str, documentation: str, tallies: dict[str, Tally], label: str | None = None
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._tallies = tallies
        self._label = label

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = [self._label] if self._label else []
        family = CounterMetricFamily(self._name, self._documentation, labels=labels)
        for value, tally in self._tallies.items():
            family.add_metric([value] if self._label else [], tally.value)
        yield family
