"""Tracing every event from its publish to each client's socket, and the latency histograms."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from runwire.ops.telemetry import export_configured, with_sdk
from runwire.web.auth import issue_token
from tests.stream_api.conftest import SECRET, StartAPI, StreamAPI, event
from tests.support.eventually import eventually
from tests.support.otlp_receiver import OTLPReceiver, otlp_receiver
from tests.support.ports import free_port
from tests.support.stream_clients import sse

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
async def traced_api(
    start_api: StartAPI, spans: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> AsyncIterator[StreamAPI]:
    telemetry = with_sdk("runwire-test", [SimpleSpanProcessor(spans)], [metric_reader])
    try:
        yield await start_api(telemetry=telemetry)
    finally:
        telemetry.shutdown()


async def deliver_one(
    api: StreamAPI, project: str, published: dict[str, Any], spans: InMemorySpanExporter
) -> dict[str, ReadableSpan]:
    """Publish one event to a connected SSE client; its spans by operation once the write is traced."""
    async with sse(api.base, project, api.token()) as reader:
        await eventually(lambda: len(api.runtime.hub.index) > 0)
        await api.publish(project, [published])
        await reader.read_events(1)

        def traced() -> dict[str, ReadableSpan] | None:
            named = spans_by_operation(spans, project)
            return named if "process" in named else None

        # The process span ends right after the socket write.
        return await eventually(traced, timeout=2)


def attributes_of(span: ReadableSpan) -> Mapping[str, object]:
    assert span.attributes is not None
    return span.attributes


def spans_by_operation(spans: InMemorySpanExporter, project: str) -> dict[str, ReadableSpan]:
    """The messaging spans of this test's project, keyed by operation (send, receive, fanout, process)."""
    return {
        s.name.split(" ")[0]: s
        for s in spans.get_finished_spans()
        if s.name.split(" ", 1)[-1].startswith(f"events.{project}.")
    }


async def test_publish_receive_fanout_and_process_share_one_trace(
    traced_api: StreamAPI, spans: InMemorySpanExporter, project: str
) -> None:
    published = event(project, "job.started", "j1")
    named = await deliver_one(traced_api, project, published, spans)
    assert set(named) == {"send", "receive", "fanout", "process"}
    assert named["send"].kind == SpanKind.PRODUCER
    assert named["receive"].kind == SpanKind.CONSUMER
    assert named["process"].kind == SpanKind.CONSUMER
    trace_ids = {s.context.trace_id for s in named.values()}
    assert len(trace_ids) == 1
    assert named["receive"].parent is not None
    assert named["receive"].parent.span_id == named["send"].context.span_id
    assert attributes_of(named["fanout"])["runwire.recipients"] == 1
    send = attributes_of(named["send"])
    assert send["messaging.system"] == "nats"
    assert send["messaging.destination.name"] == f"events.{project}.j1.job.started"
    assert send["messaging.message.id"] == published["id"]


async def test_an_incoming_traceparent_is_honoured(
    traced_api: StreamAPI, spans: InMemorySpanExporter, project: str
) -> None:
    published = {**event(project, "job.started", "j1"), "traceparent": TRACEPARENT}
    named = await deliver_one(traced_api, project, published, spans)
    assert {format(s.context.trace_id, "032x") for s in named.values()} == {TRACEPARENT[3:35]}
    assert named["send"].parent is not None
    assert format(named["send"].parent.span_id, "016x") == TRACEPARENT[36:52]
    [stored] = await traced_api.runtime.store.read_aggregate(project, "j1")
    assert stored.event.traceparent is not None
    assert stored.event.traceparent[3:35] == TRACEPARENT[3:35]


async def test_http_requests_are_traced_without_chunk_spans(
    traced_api: StreamAPI, spans: InMemorySpanExporter, project: str
) -> None:
    await traced_api.publish(project, [event(project)])
    names = [s.name for s in spans.get_finished_spans()]
    assert any(name.startswith("POST /v1/projects/") for name in names)
    assert not any("http send" in name or "http receive" in name for name in names)


async def test_delivery_latency_histogram_in_otel_and_prometheus(
    traced_api: StreamAPI, spans: InMemorySpanExporter, metric_reader: InMemoryMetricReader, project: str
) -> None:
    await deliver_one(traced_api, project, event(project), spans)
    data = metric_reader.get_metrics_data()
    assert data is not None
    points = {
        metric.name: metric.data.data_points
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if isinstance(metric.data, Histogram)
    }
    [delivery] = points["runwire.delivery.latency"]
    assert delivery.count == 1
    assert dict(delivery.attributes or {}) == {"transport": "sse", "project": "_all"}
    assert sum(p.count for p in points["runwire.stream.receive.latency"]) >= 1
    text = (await traced_api.http.get("/metrics")).text
    assert 'runwire_delivery_latency_seconds_count{project="_all",transport="sse"} 1.0' in text
    assert 'runwire_delivery_latency_seconds_bucket{le="0.005",project="_all"' in text


async def test_without_telemetry_events_pass_untraced(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project)])
    [stored] = await api.runtime.store.read_aggregate(project, "a1")
    assert stored.event.traceparent is None
    assert not api.runtime.telemetry.enabled


def test_export_is_configured_only_by_the_otel_variables() -> None:
    assert not export_configured({})
    assert export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with otlp_receiver() as running:
        yield running


async def test_spans_and_latency_reach_an_otlp_endpoint(
    nats_url: str, tmp_path: Path, project: str, receiver: OTLPReceiver
) -> None:
    endpoint = receiver.endpoint
    port = free_port()
    env = {
        **os.environ,
        "RUNWIRE_NATS_URL": nats_url,
        "RUNWIRE_AUTH_SECRET": SECRET,
        "RUNWIRE_HTTP_PORT": str(port),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
    }
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "runwire_stream_api"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    token = issue_token(SECRET, "t", [project])
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            async def live() -> bool:
                stats = (await http.get("/v1/stats")).json()
                return bool(stats["connections"]["sse"] == 1 and stats["catch_up_clients"] == 0)

            await eventually(ready, timeout=15)
            async with sse(base, project, token) as reader:
                await eventually(live, timeout=5)  # the stream has joined the live fan-out
                published = event(project, "otlp.check")
                response = await http.post(f"/v1/projects/{project}/events", json=published)
                assert response.status_code == 202
                await reader.read_events(1)

            def seen() -> tuple[set[str], set[str]]:
                """The operations of this project's exported spans, and the exported metrics' names."""
                spans = {s.name.split(" ")[0] for s in receiver.spans() if f"events.{project}." in s.name}
                return spans, receiver.metric_names()

            def exported() -> tuple[set[str], set[str]] | None:
                spans, metrics = seen()
                wanted = {"send", "receive", "process"} <= spans and "runwire.delivery.latency" in metrics
                return (spans, metrics) if wanted else None

            span_names, metric_names = await eventually(exported, timeout=15, failure=lambda: f"saw {seen()}")
    finally:
        process.terminate()
        process.wait(15)
        log.close()
    assert {"send", "receive", "fanout", "process"} <= span_names
    assert "runwire.delivery.latency" in metric_names
