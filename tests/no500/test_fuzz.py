"""Schemathesis finds no 5xx, and only problem+json 4xx, in the OpenAPI document of every service.

RUNWIRE_FUZZ_EXAMPLES sets the cases per operation and generation mode (positive, negative); the
default keeps the four services under a minute together.
"""

from __future__ import annotations

import asyncio
from typing import Final

import httpx
import pytest

from tests.no500.fuzz import fuzz
from tests.no500.services import SERVICES, Services

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROJECT: Final = "fuzz"


async def known_resources(services: Services, service: str) -> dict[str, str]:
    """Path parameters that name existing resources of `service`, so cases get past the 404s."""
    base = f"/v1/projects/{PROJECT}"
    create = {
        "ingest": (f"{base}/ingest/jobs", {"text": "fuzzing text"}, "job_id"),
        "agent": (f"{base}/agent/runs", {"prompt": "what is fuzzing?"}, "run_id"),
        "workflow": (
            f"{base}/workflow/runs",
            {"nodes": [{"id": "gate", "kind": "gate"}, {"id": "later", "kind": "delay", "seconds": 0}]},
            "run_id",
        ),
    }
    known = {"project": PROJECT, "node": "gate"}
    async with httpx.AsyncClient(base_url=services.urls[service], headers=services.auth, timeout=30) as http:
        if service == "stream-api":
            event = {"specversion": "1.0", "id": "fuzz-1", "source": "/fuzz", "type": "fuzz.seeded"}
            published = await http.post(f"{base}/events", json={**event, "project": PROJECT})
            assert published.status_code == 202, published.text
            known["cursor"] = published.json()["events"][0]["cursor"]
            hook = {"url": "http://93.184.215.14/hook", "types": ["fuzz.never"]}  # public, never called
            created = await http.post(f"{base}/webhooks", json=hook)
            assert created.status_code == 201, created.text
            known["webhook_id"] = created.json()["id"]
        else:
            path, body, name = create[service]
            created = await http.post(path, json=body)
            assert created.status_code == 201, created.text
            known[name] = created.json()["id"]
    return known


@pytest.mark.parametrize("service", SERVICES)
async def test_generated_requests_get_no_5xx_and_problem_json_on_every_4xx(
    services: Services, service: str
) -> None:
    base = services.urls[service]
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        document = (await http.get("/schema/openapi.json")).json()
    known = await known_resources(services, service)
    report = await asyncio.to_thread(fuzz, document, base, services.auth, known)
    print(f"{service}: {report.cases} cases, {len(report.failures)} failures")
    assert report.cases > 0
    assert report.failures == [], "\n".join(report.failures[:20])
