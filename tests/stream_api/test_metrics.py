"""`/metrics`: a Content-Type current Prometheus accepts, bounded labels, an optional bearer token."""

from __future__ import annotations

from email.message import Message

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runwire.ops.telemetry import disabled
from runwire_stream_api.latency import MAX_PROJECT_LABELS, OTHER_PROJECTS, LatencyRecorder
from tests.stream_api.conftest import StartAPI, event


def media_type_parameters(content_type: str) -> tuple[str, list[tuple[str, str]]]:
    """The media type and its parameters in order, parsed strictly (as Go's mime.ParseMediaType)."""
    kind, *parameters = [part.strip() for part in content_type.split(";")]
    pairs = []
    for parameter in parameters:
        name, separator, value = parameter.partition("=")
        assert separator == "=" and name and value, f"malformed parameter {parameter!r}"
        pairs.append((name.lower(), value.strip('"')))
    message = Message()
    message["content-type"] = content_type
    assert message.get_content_type() == kind
    return kind, pairs


async def deliver_one(api_base: str, http: httpx.AsyncClient, token: str, project: str) -> None:
    """Deliver one event to one polling client so that a latency series exists."""
    response = await http.get(
        f"{api_base}/v1/projects/{project}/events",
        params={"from": "earliest"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200


def latency_project_labels(text: str) -> set[str]:
    """The `project` label values of the delivery-latency histogram in a scrape."""
    return {
        sample.labels["project"]
        for family in text_string_to_metric_families(text)
        if family.name == "runwire_delivery_latency_seconds"
        for sample in family.samples
    }


async def test_metrics_content_type_has_each_parameter_once(start_api: StartAPI) -> None:
    api = await start_api()
    response = await api.http.get("/metrics")
    kind, parameters = media_type_parameters(response.headers["content-type"])
    assert (kind, parameters) == ("text/plain", [("version", "0.0.4"), ("charset", "utf-8")])


async def test_metrics_body_parses_as_prometheus_text(start_api: StartAPI) -> None:
    api = await start_api()
    families = {
        family.name for family in text_string_to_metric_families((await api.http.get("/metrics")).text)
    }
    assert {"runwire_nats_connected", "runwire_delivery_latency_seconds"} <= families


async def test_latency_series_name_no_project_by_default(start_api: StartAPI, unique: str) -> None:
    api = await start_api()
    project = f"tenant-{unique}"
    await api.publish(project, [event(project)])
    await deliver_one(api.base, api.http, api.token(), project)
    text = (await api.http.get("/metrics")).text
    projects = latency_project_labels(text)
    assert projects == {"_all"}
    assert project not in text


async def test_latency_series_name_projects_when_enabled(start_api: StartAPI, unique: str) -> None:
    api = await start_api(metrics_project_labels=True)
    project = f"tenant-{unique}"
    await api.publish(project, [event(project)])
    await deliver_one(api.base, api.http, api.token(), project)
    text = (await api.http.get("/metrics")).text
    projects = latency_project_labels(text)
    assert projects == {project}


async def test_metrics_token_refuses_a_scrape_without_it(start_api: StartAPI) -> None:
    api = await start_api(metrics_token="scrape-secret")
    response = await api.http.get("/metrics")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_metrics_token_refuses_a_wrong_token(start_api: StartAPI) -> None:
    api = await start_api(metrics_token="scrape-secret")
    response = await api.http.get("/metrics", headers={"Authorization": "Bearer other"})
    assert response.status_code == 401


async def test_metrics_token_admits_the_configured_token(start_api: StartAPI) -> None:
    api = await start_api(metrics_token="scrape-secret")
    response = await api.http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert response.status_code == 200
    assert "runwire_nats_connected 1.0" in response.text


def test_project_labels_are_capped() -> None:
    recorder = LatencyRecorder(disabled(), project_labels=True)
    labels = {recorder.series("sse", f"p{n}").attributes["project"] for n in range(MAX_PROJECT_LABELS + 5)}
    assert len(labels) == MAX_PROJECT_LABELS + 1
    assert OTHER_PROJECTS in labels
