"""OpenTelemetry for runwire processes: tracer and meter, OTLP export when configured, else off.

Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces/metrics variant) is set and
`OTEL_SDK_DISABLED` is not true; the standard `OTEL_*` variables configure the exporters. When it
is off, the no-op tracer and meter cost next to nothing and hot paths skip span work entirely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from litestar.plugins import PluginProtocol
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

INSTRUMENTATION: Final = "runwire"

# Seconds; fine below 5 ms so that a p99 there can be read, coarse above a second.
LATENCY_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
    0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

_propagator = TraceContextTextMapPropagator()


@dataclass
class Telemetry:
    """A process's tracer and meter; `enabled` says whether anything is recorded at all."""

    tracer: Tracer
    meter: Meter
    enabled: bool
    tracer_provider: trace.TracerProvider
    meter_provider: MeterProvider
    _shutdowns: list[object] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush and stop exporters (no-op when disabled)."""
        for provider in self._shutdowns:
            provider.shutdown()  # type: ignore[attr-defined]


def disabled() -> Telemetry:
    """No tracing, no metrics: the no-op providers of the OpenTelemetry API."""
    tracer_provider = trace.NoOpTracerProvider()
    meter_provider = metrics.NoOpMeterProvider()
    return Telemetry(
        tracer=tracer_provider.get_tracer(INSTRUMENTATION),
        meter=meter_provider.get_meter(INSTRUMENTATION),
        enabled=False,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def with_sdk(
    service_name: str,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """SDK providers feeding the given processors and readers (OTLP in production, in-memory in tests)."""
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    tracer_provider = TracerProvider(resource=resource)
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    histogram_view = View(
        instrument_name="runwire.*latency",
        aggregation=ExplicitBucketHistogramAggregation(boundaries=LATENCY_BUCKETS),
    )
    meter_provider = SdkMeterProvider(
        resource=resource, metric_readers=list(metric_readers), views=[histogram_view]
    )
    return Telemetry(
        tracer=tracer_provider.get_tracer(INSTRUMENTATION),
        meter=meter_provider.get_meter(INSTRUMENTATION),
        enabled=True,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        _shutdowns=[tracer_provider, meter_provider],
    )


def export_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard OTEL_* variables ask for OTLP export."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return any(
        env.get(name)
        for name in (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        )
    )


def from_environment(service_name: str) -> Telemetry:
    """OTLP/HTTP export when configured (exporters read the standard OTEL_* variables), else disabled."""
    if not export_configured():
        return disabled()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return with_sdk(
        service_name,
        span_processors=[BatchSpanProcessor(OTLPSpanExporter())],
        metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())],
    )


def install_globally(telemetry: Telemetry) -> None:
    """Make these the process's global providers (used by code that does not receive them)."""
    if telemetry.enabled:
        trace.set_tracer_provider(telemetry.tracer_provider)
        metrics.set_meter_provider(telemetry.meter_provider)


def global_telemetry() -> Telemetry:
    """Whatever the process installed globally (the no-op providers if nothing was)."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    enabled = isinstance(tracer_provider, TracerProvider)
    return Telemetry(
        tracer=tracer_provider.get_tracer(INSTRUMENTATION),
        meter=meter_provider.get_meter(INSTRUMENTATION),
        enabled=enabled,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


class _DictGetter(Getter[Mapping[str, str]]):
    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return [value] if value is not None else None

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


class _DictSetter(Setter[dict[str, str]]):
    def set(self, carrier: dict[str, str], key: str, value: str) -> None:
        carrier[key] = value


_getter = _DictGetter()
_setter = _DictSetter()


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The trace context a W3C traceparent names (None when there is none)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _propagator.extract(carrier, getter=_getter)


def current_traceparent(context: Context | None = None) -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current or given context, as header/attribute values."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=context, setter=_setter)
    return carrier


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id inside a traceparent."""
    if not traceparent or len(traceparent) < 35:
        return None
    return traceparent[3:35]


def http_tracing(telemetry: Telemetry) -> list[PluginProtocol]:
    """Litestar's own OpenTelemetry plugin, without per-chunk send/receive spans; only when enabled."""
    if not telemetry.enabled:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    return [
        OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
                exclude_spans=["receive", "send"],
                exclude=["/healthz", "/readyz", "/metrics"],
            )
        )
    ]
