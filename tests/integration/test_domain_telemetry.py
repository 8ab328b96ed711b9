"""The domain services trace their commands: an HTTP span and a PRODUCER span per appended event,
in one trace, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

from pathlib import Path

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.integration.domain_services import ServiceProcess, auth
from tests.support.eventually import eventually
from tests.support.otlp_receiver import otlp_receiver


async def test_an_ingest_job_is_traced_from_its_http_request_to_each_append(
    nats_url: str, tmp_path: Path, project: str
) -> None:
    with otlp_receiver() as receiver:
        service = ServiceProcess(
            "runwire_ingest",
            1,
            nats_url,
            tmp_path,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        await service.start()
        try:
            async with httpx.AsyncClient(
                base_url=f"{service.base_url}/v1/projects/{project}", timeout=10
            ) as http:
                response = await http.post(
                    "/ingest/jobs", json={"name": "t.txt", "text": "traced document"}, headers=auth(project)
                )
                assert response.status_code == 201, response.text

            def exported() -> tuple[list[Span], list[Span]] | None:
                """The HTTP spans and the `created` PRODUCER spans, once there are both."""
                spans = receiver.spans()
                http_spans = [s for s in spans if s.name.startswith("POST /v1/projects/")]
                created = [
                    s for s in spans if s.name.startswith(f"send events.{project}.") and ".created" in s.name
                ]
                return (http_spans, created) if http_spans and created else None

            http_spans, created = await eventually(
                exported, timeout=15, failure=lambda: str([s.name for s in receiver.spans()])
            )
        finally:
            service.stop()
    assert created[0].trace_id == http_spans[0].trace_id
    assert created[0].kind == created[0].SPAN_KIND_PRODUCER
