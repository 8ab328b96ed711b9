"""SSE forms for clients that listen only to `message` (EventSource.onmessage, htmx) and the
escaped HTML-fragment form for htmx; CORS with credentials for explicit origin lists."""

from __future__ import annotations

import html

import pytest

from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.stream_clients import SSEMessage, sse


def named(messages: list[SSEMessage], name: str) -> list[SSEMessage]:
    return [m for m in messages if m.event == name and m.id is not None]


async def test_event_names_message_names_every_event_message(api: StreamAPI, project: str) -> None:
    published = [event(project, "run.step.one", n=1), event(project, "run.step.two", n=2)]
    cursors = await api.publish(project, published)
    params = {"from": "earliest", "event_names": "message"}
    async with sse(api.base, project, api.token(), params) as reader:
        await reader.read_until(lambda ms: len(named(ms, "message")) >= 2)
    got = named(reader.messages, "message")
    assert [m.id for m in got] == cursors
    assert [m.json["type"] for m in got] == ["run.step.one", "run.step.two"]  # the type stays in the data
    assert [m.json["id"] for m in got] == [e["id"] for e in published]


async def test_html_fragments_escape_everything_from_the_event(api: StreamAPI, project: str) -> None:
    hostile = event(project, "run.step.one", "a1", text="<b>A0</b>", quote='"><script>x()</script>')
    [cursor] = await api.publish(project, [hostile])
    async with sse(api.base, project, api.token(), {"from": "earliest", "format": "html"}) as reader:
        await reader.read_until(lambda ms: len(named(ms, "run.step.one")) >= 1)
    [message] = named(reader.messages, "run.step.one")
    assert message.id == cursor
    fragment = message.data
    assert "\n" not in fragment
    assert "<b>" not in fragment and "<script>" not in fragment
    assert "&lt;b&gt;A0&lt;/b&gt;" in fragment
    assert f'data-cursor="{cursor}"' in fragment
    assert '<span class="runwire-event-type">run.step.one</span>' in fragment
    assert '<span class="runwire-event-subject">a1</span>' in fragment
    assert f'<time datetime="{hostile["time"]}">' in fragment


async def test_html_data_summary_is_cut_and_marked(api: StreamAPI, project: str) -> None:
    await api.publish(project, [event(project, "run.big", text="x" * 1000)])
    params = {"from": "earliest", "format": "html", "event_names": "message"}
    async with sse(api.base, project, api.token(), params) as reader:
        await reader.read_until(lambda ms: len(named(ms, "message")) >= 1)
    [message] = named(reader.messages, "message")
    escaped = message.data.split('<code class="runwire-event-data">')[1].split("</code>")[0]
    summary = html.unescape(escaped)
    assert summary.endswith("…") and len(summary) == 200
    assert summary.startswith('{"text":"xxx')


@pytest.mark.parametrize(("name", "value"), [("event_names", "types"), ("format", "xml")])
async def test_bad_form_parameters_are_400_naming_them(
    api: StreamAPI, project: str, name: str, value: str
) -> None:
    response = await api.http.get(
        f"/v1/projects/{project}/events/stream",
        params={name: value},
        headers={"Authorization": f"Bearer {api.token()}"},
    )
    assert (response.status_code, response.json()["field"]) == (400, name)
    assert not api.runtime.clients


async def test_explicit_origins_allow_credentials(start_api: StartAPI, project: str) -> None:
    api = await start_api(cors_origins="https://app.example, https://other.example")
    preflight = await api.http.options(
        f"/v1/projects/{project}/events/stream",
        headers={
            "Origin": "https://other.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://other.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in preflight.headers["vary"]
    response = await api.http.get(
        f"/v1/projects/{project}/events",
        params={"access_token": api.token()},
        headers={"Origin": "https://app.example"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in response.headers["vary"]
    stranger = await api.http.get(
        f"/v1/projects/{project}/events",
        params={"access_token": api.token()},
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in stranger.headers


async def test_any_origin_never_allows_credentials(start_api: StartAPI, project: str) -> None:
    api = await start_api(cors_origins="*")
    response = await api.http.get(
        f"/v1/projects/{project}/events",
        params={"access_token": api.token()},
        headers={"Origin": "https://app.example"},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    preflight = await api.http.options(
        f"/v1/projects/{project}/events/stream",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


async def test_openapi_documents_the_new_parameters(api: StreamAPI) -> None:
    document = (await api.http.get("/schema/openapi.json")).json()
    sse_params = {
        p["name"]: p for p in document["paths"]["/v1/projects/{project}/events/stream"]["get"]["parameters"]
    }
    assert "`message`" in sse_params["event_names"]["description"]
    assert "escaped" in sse_params["format"]["description"]
    assert "`snapshot`" in sse_params["from"]["description"]
    poll_params = {
        p["name"]: p for p in document["paths"]["/v1/projects/{project}/events"]["get"]["parameters"]
    }
    assert "`snapshot`" in poll_params["from"]["description"]
    assert "format" not in poll_params
