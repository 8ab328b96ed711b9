"""Health, readiness and metrics of the stream API, over a real socket."""

from __future__ import annotations

from pathlib import Path

import httpx

from runwire.jetstream.embedded_nats import EmbeddedNats
from runwire.ops.settings import Settings
from runwire_stream_api.app import create_app
from tests.support.http_server import serving


def settings_for(nats_url: str) -> Settings:
    return Settings(nats_url=nats_url, auth_secret="s" * 32)


async def test_healthz_answers_ok(nats_url: str) -> None:
    async with serving(create_app(settings_for(nats_url))) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_with_nats_and_the_stream(nats_url: str) -> None:
    async with serving(create_app(settings_for(nats_url))) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["stream"] == "EVENTS"


async def test_readyz_is_503_problem_when_nats_is_gone(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path)
    server.start()
    try:
        async with (
            serving(create_app(settings_for(server.url))) as base,
            httpx.AsyncClient(base_url=base) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200
            server.kill()
            response = await http.get("/readyz")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert response.json()["status"] == 503


async def test_unknown_path_is_a_404_problem(nats_url: str) -> None:
    async with serving(create_app(settings_for(nats_url))) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
