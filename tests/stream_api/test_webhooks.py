"""Webhooks against a real receiver on a loopback socket: order, signatures (verified with the
`standardwebhooks` package), retries after errors and timeouts, pausing, the private-range rule,
per-project isolation, and several instances delivering one webhook without duplicates."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier

from runwire.ops.settings import SettingsError, load_settings
from runwire_stream_api.webhooks.targets import is_public
from tests.stream_api.conftest import StartAPI, StreamAPI, event
from tests.support.eventually import eventually
from tests.support.webhook_receiver import HANG, Received, webhook_receiver


def auth(api: StreamAPI, projects: Any = "*") -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token(projects)}"}


async def register(api: StreamAPI, project: str, url: str, **body: Any) -> dict[str, Any]:
    response = await api.http.post(
        f"/v1/projects/{project}/webhooks", json={"url": url, **body}, headers=auth(api)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def status(api: StreamAPI, project: str, webhook_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/v1/projects/{project}/webhooks/{webhook_id}", headers=auth(api))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["status"]
    return found


def event_ids(requests: list[Received]) -> list[str]:
    return [json.loads(r.body)["id"] for r in requests]


def first_occurrences(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


async def test_events_arrive_in_order_signed(start_api: StartAPI, project: str) -> None:
    api = await start_api(webhooks_allow_private=True)
    async with webhook_receiver() as receiver:
        hook = await register(api, project, receiver.url, types=["test.>"])
        assert hook["secret"].startswith("whsec_")
        published = []
        for batch in range(5):
            events = [event(project, n=batch * 40 + n) for n in range(40)]
            events.append(event(project, type_="other.happened"))  # outside the filter
            await api.publish(project, events)
            published += [e["id"] for e in events[:-1]]
        await eventually(lambda: len(receiver.requests) >= len(published), timeout=30)
        assert event_ids(receiver.requests) == published
        verifier = Verifier(hook["secret"])
        for request in receiver.requests:
            assert request.method == "POST"
            assert request.headers["content-type"] == "application/cloudevents+json"
            assert verifier.verify(request.body, request.headers)["project"] == project
        assert len({r.headers["webhook-id"] for r in receiver.requests}) == len(published)
        final = await status(api, project, hook["id"])
        assert final["consecutive_failures"] == 0
        assert final["paused"] is False
        assert final["pending"] == 0
        assert final["last_success_at"] is not None


async def test_errors_and_timeouts_are_retried_without_gap(start_api: StartAPI, project: str) -> None:
    api = await start_api(
        webhooks_allow_private=True,
        webhooks_retry_seconds="0.05,0.05,0.05,0.05",
        webhooks_timeout_seconds=0.5,
    )
    plan = {0: 500, 1: 503, 2: HANG, 4: 404}
    async with webhook_receiver() as receiver:
        receiver.answer = lambda index, request: plan.get(index, 200)
        hook = await register(api, project, receiver.url)
        events = [event(project, n=n) for n in range(4)]
        await api.publish(project, events)
        expected = [e["id"] for e in events]
        await eventually(lambda: first_occurrences(event_ids(receiver.requests)) == expected, timeout=30)
        ids = event_ids(receiver.requests)
        # The first event four times (500, 503, timeout, then 200), the second twice (404, 200).
        assert ids == [expected[0]] * 4 + [expected[1]] * 2 + expected[2:]
        first = receiver.requests[:4]
        assert len({r.headers["webhook-id"] for r in first}) == 1  # stable across retries
        verifier = Verifier(hook["secret"])
        for request in receiver.requests:
            verifier.verify(request.body, request.headers)
        final = await eventually(lambda: _settled(api, project, hook["id"]), timeout=10)
        assert final["consecutive_failures"] == 0


async def _settled(api: StreamAPI, project: str, webhook_id: str) -> dict[str, Any] | None:
    found = await status(api, project, webhook_id)
    return found if found["pending"] == 0 and found["consecutive_failures"] == 0 else None


async def test_paused_after_the_retries_then_resumed(
    start_api: StartAPI, project: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = await start_api(webhooks_allow_private=True, webhooks_retry_seconds="0.01,0.01")
    async with webhook_receiver() as receiver:
        receiver.answer = lambda index, request: 500
        hook = await register(api, project, receiver.url)
        events = [event(project, n=n) for n in range(3)]
        cursors = await api.publish(project, events)

        async def paused() -> dict[str, Any] | None:
            found = await status(api, project, hook["id"])
            return found if found["paused"] else None

        stopped = await eventually(paused, timeout=15)
        assert stopped["consecutive_failures"] == 3  # the first attempt and two retries
        assert stopped["last_error"] == "HTTP 500"
        assert stopped["position"] == str(int(cursors[0]) - 1)
        assert len(receiver.requests) == 3
        assert set(event_ids(receiver.requests)) == {events[0]["id"]}

        receiver.answer = lambda index, request: 200
        response = await api.http.post(
            f"/v1/projects/{project}/webhooks/{hook['id']}/resume", headers=auth(api)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"]["paused"] is False
        expected = [e["id"] for e in events]
        await eventually(lambda: event_ids(receiver.requests)[3:] == expected, timeout=15)
        settled = await eventually(lambda: _settled(api, project, hook["id"]), timeout=10)
        assert settled["position"] == cursors[-1]
    assert hook["secret"] not in caplog.text
    assert hook["secret"].removeprefix("whsec_") not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
    ],
)
async def test_private_targets_are_refused(api: StreamAPI, project: str, url: str) -> None:
    response = await api.http.post(f"/v1/projects/{project}/webhooks", json={"url": url}, headers=auth(api))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "url"
    assert "RUNWIRE_WEBHOOKS_ALLOW_PRIVATE" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "http://user:pw@93.184.215.14/"}, "url"),
        ({"types": ["a"]}, "url"),
        ({"url": "http://93.184.215.14/", "types": ["A B"]}, "types"),
        ({"url": "http://93.184.215.14/", "aggregates": ["a.b"]}, "aggregates"),
        ({"url": "http://93.184.215.14/", "from": "nowhere"}, "from"),
        ({"url": "http://93.184.215.14/", "from": "99999999999"}, "from"),
        ({"url": "http://93.184.215.14/", "colour": "red"}, "colour"),
    ],
)
async def test_invalid_registrations_name_the_field(
    api: StreamAPI, project: str, body: dict[str, Any], field: str
) -> None:
    response = await api.http.post(f"/v1/projects/{project}/webhooks", json=body, headers=auth(api))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field, response.text


async def test_webhooks_are_per_project_and_secrets_are_not_listed(api: StreamAPI, project: str) -> None:
    other = project + "-other"
    hook = await register(api, project, "http://93.184.215.14/hook", aggregates=["run-1"])
    listed = await api.http.get(f"/v1/projects/{project}/webhooks", headers=auth(api, [project]))
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["webhooks"]] == [hook["id"]]
    assert hook["secret"] not in listed.text
    assert listed.json()["webhooks"][0]["aggregates"] == ["run-1"]
    single = await api.http.get(f"/v1/projects/{project}/webhooks/{hook['id']}", headers=auth(api, [project]))
    assert hook["secret"] not in single.text
    # Another project's token sees nothing of it; the other project's path does not find it.
    forbidden = await api.http.get(f"/v1/projects/{project}/webhooks", headers=auth(api, [other]))
    assert forbidden.status_code == 403
    elsewhere = await api.http.get(f"/v1/projects/{other}/webhooks/{hook['id']}", headers=auth(api, [other]))
    assert elsewhere.status_code == 404
    assert (await api.http.get(f"/v1/projects/{other}/webhooks", headers=auth(api, [other]))).json() == {
        "webhooks": []
    }
    gone = await api.http.delete(
        f"/v1/projects/{project}/webhooks/{hook['id']}", headers=auth(api, [project])
    )
    assert gone.status_code == 204
    again = await api.http.get(f"/v1/projects/{project}/webhooks/{hook['id']}", headers=auth(api, [project]))
    assert again.status_code == 404
    assert (await api.http.get(f"/v1/projects/{project}/webhooks")).status_code == 401


async def test_several_instances_deliver_each_event_once_in_order(start_api: StartAPI, project: str) -> None:
    instances = [await start_api(webhooks_allow_private=True) for _ in range(3)]
    async with webhook_receiver() as receiver:
        await register(instances[0], project, receiver.url, **{"from": "latest"})
        expected = []
        for n in range(60):
            published = [event(project, n=n)]
            await instances[n % 3].publish(project, published)
            expected.append(published[0]["id"])
        await eventually(lambda: len(receiver.requests) >= len(expected), timeout=30)
        assert event_ids(receiver.requests) == expected


async def test_from_earliest_delivers_history(api: StreamAPI, project: str) -> None:
    async with webhook_receiver() as receiver:
        events = [event(project, n=n) for n in range(5)]
        await api.publish(project, events)
        response = await api.http.post(
            f"/v1/projects/{project}/webhooks",
            json={"url": receiver.url, "from": "earliest"},
            headers=auth(api),
        )
        assert response.status_code == 400  # private target: not allowed by default
        assert response.json()["field"] == "url"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::5db8:d70e", True),
        ("2002:a00:1::1", False),
    ],
)
def test_only_public_addresses_are_targets(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.mark.parametrize("value", ["", "1,,2", "x", "-1", "nan", "1,99999999"])
def test_a_bad_retry_list_stops_the_process_naming_the_variable(value: str) -> None:
    if value == "":
        assert load_settings({"RUNWIRE_WEBHOOKS_RETRY_SECONDS": value}).webhooks_retry_delays == (
            1.0,
            5.0,
            30.0,
            120.0,
            600.0,
        )
        return
    with pytest.raises(SettingsError, match="RUNWIRE_WEBHOOKS_RETRY_SECONDS"):
        load_settings({"RUNWIRE_WEBHOOKS_RETRY_SECONDS": value})
