"""The domain services trace their commands: an HTTP span and a PRODUCER span per appended event,
in one trace, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.integration.domain_services import ServiceProcess, auth
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
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                spans = receiver.spans()
                http_spans = [s for s in spans if s.name.startswith("POST /v1/projects/")]
                created = [
                    s for s in spans if s.name.startswith(f"send events.{project}.") and ".created" in s.name
                ]
                if http_spans and created:
                    break
                await asyncio.sleep(0.2)
        finally:
            service.stop()
    assert http_spans, [s.name for s in spans]
    assert created, [s.name for s in spans]
    assert created[0].trace_id == http_spans[0].trace_id
    assert created[0].kind == created[0].SPAN_KIND_PRODUCER
