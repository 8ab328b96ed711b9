"""`make demo`: one fresh project through all three domain services of a running `make run`.

It ingests a document, runs the agent on it (approving the risky step it asks for), then runs a
workflow that uses every node kind, with a gate that approves itself after a short timeout, and
waits for it to complete. The last line it prints is `project=<id> run=<workflow run id>`, so
that the run's events can be replayed from the stream API afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from runwire.ops.settings import Settings, SettingsError, load_settings
from runwire.web.auth import issue_token, read_dev_secret
from runwire_dev.readiness import not_ready_reason, wait_until_ready
from runwire_dev.retrying_transport import RetryingTransport

DOCUMENT: Final = """\
Foxes are small to medium-sized omnivorous mammals of the dog family. The red fox is the largest
of the true foxes and lives across the Northern Hemisphere, from the Arctic Circle to North Africa.

Foxes hunt alone. They eat rodents, rabbits, birds, insects and fruit, and they cache food they
cannot finish. A fox can hear a mouse squeak from about forty metres away.

Arctic foxes change the colour of their fur with the seasons: white in winter, brown in summer.
Fennec foxes, the smallest foxes, live in the Sahara and have very large ears that shed heat.
"""

AGENT_PROMPT: Final = "What do foxes eat? Also compute 17 * 23, and publish a short report."

WORKFLOW_YAML: Final = """\
name: demo-fox-report
nodes:
  - id: load
    kind: ingest
    name: foxes.txt
    document: |
      Foxes hunt alone at dusk. They eat rodents, rabbits, birds and fruit.
      The fennec fox is the smallest fox and lives in the Sahara.
    chunk_size: 80
    chunk_overlap: 10
  - id: settle
    kind: delay
    seconds: 0.5
    needs: [load]
  - id: review
    kind: gate
    message: Approve the summary step?
    timeout_seconds: 1
    on_timeout: approve
    needs: [settle]
  - id: summarise
    kind: agent
    prompt: What do foxes eat? And how much is 12 * 12?
    needs: [review]
"""

TERMINAL: Final = frozenset({"completed", "failed", "cancelled"})
READY_LIMIT_SECONDS: Final = 60.0


class DemoFailed(RuntimeError):
    """A step of the demo did not end as expected; the message says which and why."""


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the three domain services."""

    ingest: str
    agent: str
    workflow: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        host = settings.http_host
        return cls(*(f"http://{host}:{settings.service_port(offset)}" for offset in (1, 2, 3)))


def services_of(settings: Settings) -> dict[str, str]:
    """Every service the demo needs ready (the stream API too: the run is replayed from it)."""
    endpoints = Endpoints.from_settings(settings)
    stream_api = f"http://{settings.http_host}:{settings.service_port(0)}"
    return {
        "stream-api": stream_api,
        "ingest": endpoints.ingest,
        "agent": endpoints.agent,
        "workflow": endpoints.workflow,
    }


def wait_for_services(
    services: dict[str, str],
    limit_seconds: float = READY_LIMIT_SECONDS,
    *,
    say: Callable[[str], None] = print,
) -> None:
    """Wait until every service answers /readyz 200, so that the demo can start together with
    `make run`; DemoFailed names each service that did not within `limit_seconds`."""
    first = {name: not_ready_reason(url) for name, url in services.items()}
    waiting = [name for name, reason in first.items() if reason is not None]
    if not waiting:
        return
    say(f"waiting up to {limit_seconds:g}s for {', '.join(waiting)} to be ready")
    pending = wait_until_ready({name: services[name] for name in waiting}, limit_seconds)
    if pending:
        answers = "; ".join(f"{name} at {services[name]}/readyz ({why})" for name, why in pending.items())
        raise DemoFailed(f"not ready after {limit_seconds:g}s: {answers}; is `make run` running?")


@dataclass(frozen=True)
class DemoResult:
    """What the demo created."""

    project: str
    job: str
    agent_run: str
    workflow_run: str


async def _until(
    client: httpx.AsyncClient,
    url: str,
    done: Callable[[dict[str, Any]], bool],
    what: str,
    limit_seconds: float,
) -> dict[str, Any]:
    """GET `url` until `done(body)`; the demo is a client, so it watches the command APIs' projections."""
    deadline = time.monotonic() + limit_seconds
    while True:
        response = await client.get(url)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise DemoFailed(f"{what} did not finish within {limit_seconds:g}s (status {body.get('status')})")
        await asyncio.sleep(0.2)


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise DemoFailed(f"{what}: HTTP {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def run_demo(
    endpoints: Endpoints,
    token: str,
    project: str,
    *,
    say: Callable[[str], None] = print,
    limit_seconds: float = 60.0,
) -> DemoResult:
    """Drive the three services through one project and return what was created."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=10.0, transport=RetryingTransport()) as client:
        jobs = f"{endpoints.ingest}/v1/projects/{project}/ingest/jobs"
        document = {"name": "foxes.txt", "text": DOCUMENT, "chunk_size": 200, "chunk_overlap": 20}
        response = await client.post(jobs, json=document, headers={"Idempotency-Key": f"{project}-ingest"})
        job = _check(response, "creating the ingest job")
        say(f"ingest job {job['id']} created")
        job = await _until(
            client, f"{jobs}/{job['id']}", lambda j: j["status"] in TERMINAL, "the ingest job", limit_seconds
        )
        if job["status"] != "completed":
            raise DemoFailed(f"ingest job {job['id']} ended {job['status']}: {job['error']}")
        say(f"ingest job {job['id']} completed: {job['counts']['chunks']} chunks indexed")

        runs = f"{endpoints.agent}/v1/projects/{project}/agent/runs"
        agent_run = _check(
            await client.post(
                runs,
                json={"prompt": AGENT_PROMPT, "sources": [job["id"]]},
                headers={"Idempotency-Key": f"{project}-agent"},
            ),
            "starting the agent run",
        )
        say(f"agent run {agent_run['id']} started")
        agent_run = await _until(
            client,
            f"{runs}/{agent_run['id']}",
            lambda r: r["status"] in TERMINAL or r["pending_approval"] is not None,
            "the agent run",
            limit_seconds,
        )
        approval = agent_run["pending_approval"]
        if approval is not None:
            say(
                f"agent run {agent_run['id']} asks to run {approval['tool']} "
                f"(risk {approval['risk']}, estimated ${approval['estimated_cost']}); approving"
            )
            _check(
                await client.post(f"{runs}/{agent_run['id']}/approve", json={"comment": "demo"}), "approving"
            )
        agent_run = await _until(
            client,
            f"{runs}/{agent_run['id']}",
            lambda r: r["status"] in TERMINAL,
            "the agent run",
            limit_seconds,
        )
        if agent_run["status"] != "completed":
            raise DemoFailed(f"agent run {agent_run['id']} ended {agent_run['status']}: {agent_run['error']}")
        say(f"agent answered: {agent_run['answer']}")

        workflow_runs = f"{endpoints.workflow}/v1/projects/{project}/workflow/runs"
        workflow_run = _check(
            await client.post(
                workflow_runs,
                content=WORKFLOW_YAML,
                headers={"Content-Type": "application/yaml", "Idempotency-Key": f"{project}-workflow"},
            ),
            "starting the workflow run",
        )
        say(
            f"workflow run {workflow_run['id']} started: "
            + " -> ".join(n["id"] for n in workflow_run["nodes"])
        )
        workflow_run = await _until(
            client,
            f"{workflow_runs}/{workflow_run['id']}",
            lambda r: r["status"] in TERMINAL,
            "the workflow run",
            limit_seconds,
        )
        if workflow_run["status"] != "completed":
            raise DemoFailed(
                f"workflow run {workflow_run['id']} ended {workflow_run['status']}: {workflow_run['error']}"
            )
        review = next(n for n in workflow_run["nodes"] if n["id"] == "review")
        say(f"workflow run {workflow_run['id']} completed (gate approved by {review['decided_by']})")
        say(f"workflow answer: {workflow_run['outputs']['summarise']['answer']}")
    return DemoResult(
        project=project, job=job["id"], agent_run=agent_run["id"], workflow_run=workflow_run["id"]
    )


def main() -> int:
    """Run the demo against the services of `make run`; the last line is `project=<id> run=<id>`."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"runwire demo: {exc}", file=sys.stderr)
        return 2
    secret = settings.auth_secret or read_dev_secret(settings.data_dir)
    if secret is None:
        print(
            "runwire demo: no RUNWIRE_AUTH_SECRET and no .runwire/dev-auth-secret; start `make run` first",
            file=sys.stderr,
        )
        return 2
    project = f"demo-{uuid.uuid4().hex[:8]}"
    token = issue_token(secret, "demo", [project], ttl_seconds=3600)
    endpoints = Endpoints.from_settings(settings)
    try:
        wait_for_services(services_of(settings))
        result = asyncio.run(run_demo(endpoints, token, project))
    except httpx.TransportError as exc:
        print(f"runwire demo: a service does not answer ({exc!r}); is `make run` running?", file=sys.stderr)
        return 1
    except DemoFailed as exc:
        print(f"runwire demo: {exc}", file=sys.stderr)
        return 1
    print(f"project={result.project} run={result.workflow_run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
