"""`/v1/projects/{project}/webhooks`: register, list, inspect, resume and delete webhooks.

Per project like every endpoint (the token's `projects` claim); the signing secret is answered
once, at registration, and never listed or logged.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody
from litestar.params import FromPath

from runwire.contract.cursor import CursorError, format_cursor, parse_cursor
from runwire.contract.filters import FilterError, make_filter
from runwire.web.auth import project_guard
from runwire.web.openapi import also_answers, lift_json_schema
from runwire.web.problems import ProblemError, invalid_field
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.start_position import resolve_start
from runwire_stream_api.webhooks.dispatch import Dispatcher
from runwire_stream_api.webhooks.registration import (
    CreatedWebhook,
    DeliveryStatus,
    RequestError,
    Webhook,
    WebhookList,
    WebhookRequest,
    WebhookView,
    decode_request,
)
from runwire_stream_api.webhooks.registry import RegistryError
from runwire_stream_api.webhooks.signing import new_secret
from runwire_stream_api.webhooks.targets import TargetRefused, check_target

ID_PATTERN: Final = re.compile(r"wh_[0-9a-f]{20}")
PATH: Final = "/v1/projects/{project:str}/webhooks"
MAX_BODY_BYTES: Final = 64 * 1024
_encoder = msgspec.json.Encoder()


@dataclass
class RegistrationBody(Operation):
    """The registration body, which the handler decodes itself (to name the member at fault)."""

    def __post_init__(self) -> None:
        _, definitions = msgspec.json.schema_components([WebhookRequest])
        schema = lift_json_schema({"$defs": definitions})[WebhookRequest.__name__]
        self.request_body = RequestBody(
            required=True,
            description="Where to POST, which events, and where to start",
            content={"application/json": OpenAPIMediaType(schema=schema)},
        )


def _json(value: object, status_code: int = 200) -> Response[bytes]:
    return Response(_encoder.encode(value), status_code=status_code, media_type="application/json")


def _unavailable(exc: Exception) -> ProblemError:
    return ProblemError(
        503,
        f"the event store is unavailable; retry shortly ({exc})",
        kind="store-unavailable",
        title="Event store unavailable",
        headers={"Retry-After": "1"},
    )


def _dispatcher(state: State) -> Dispatcher:
    dispatcher: Dispatcher = state.webhooks
    return dispatcher


async def _start_after(runtime: Runtime, value: str) -> int:
    """The stream sequence that delivery starts after, from `from`."""
    if value in ("earliest", "latest"):
        return (
            await resolve_start(
                runtime.store,
                header_cursor=None,
                last_event_id=None,
                since=None,
                from_=value,  # type: ignore[arg-type]
            )
        ).after
    try:
        seq = parse_cursor(value)
    except CursorError as exc:
        raise invalid_field("from", f"`earliest`, `latest` or a cursor: {exc}", source="body") from exc
    last = (await runtime.store.bounds()).last_seq
    if seq > last:
        raise invalid_field("from", f"cursor {value} is past the head of the stream ({last})", source="body")
    return seq


async def _find(state: State, project: str, webhook_id: str) -> Webhook:
    webhook = None
    if ID_PATTERN.fullmatch(webhook_id):
        webhook = await _dispatcher(state).registry.get(project, webhook_id)
    if webhook is None:
        raise ProblemError(
            404, f"project {project!r} has no webhook {webhook_id!r}", kind="not-found", field="webhook_id"
        )
    return webhook


async def _view(dispatcher: Dispatcher, webhook: Webhook) -> WebhookView:
    try:
        consumer = await dispatcher.registry.consumer_state(webhook)
    except RegistryError as exc:
        raise _unavailable(exc) from exc
    failures = await dispatcher.registry.failures(webhook.id)
    status = DeliveryStatus(
        position=format_cursor(consumer.ack_floor.stream_seq),
        pending=consumer.num_pending + consumer.num_ack_pending,
        last_success_at=consumer.ack_floor.last_active if consumer.ack_floor.stream_seq else None,
        consecutive_failures=failures.count,
        last_error=failures.last_error,
        last_failure_at=failures.last_failure_at,
        paused=consumer.paused,
    )
    return WebhookView(
        id=webhook.id,
        url=webhook.url,
        types=list(webhook.types),
        aggregates=list(webhook.aggregates),
        created_at=webhook.created_at,
        status=status,
    )


@post(
    "/",
    summary="Register a webhook",
    description=(
        "Every stored event of the project that matches `types` and `aggregates` (the stream's "
        "filters), from `from` on, is POSTed to `url` as its CloudEvent JSON, in stream order, signed "
        "per Standard Webhooks with the `secret` answered here (and never again). Retried with backoff "
        "until a 2xx (`RUNWIRE_WEBHOOKS_RETRY_SECONDS`), then paused. `url` must resolve to public "
        "addresses unless the operator set `RUNWIRE_WEBHOOKS_ALLOW_PRIVATE=1`. See docs/webhooks.md."
    ),
    status_code=201,
    responses={201: ResponseSpec(CreatedWebhook, description="Registered", generate_examples=False)},
    operation_class=RegistrationBody,
    request_max_body_size=MAX_BODY_BYTES,
    opt=also_answers(503),
)
async def create_webhook(
    project: FromPath[str], state: State, request: Request[None, None, State]
) -> Response[bytes]:
    runtime: Runtime = state.runtime
    dispatcher = _dispatcher(state)
    try:
        data = decode_request(await request.body())
    except RequestError as exc:
        raise invalid_field(exc.field, exc.message, source="body") from exc
    try:
        event_filter = make_filter(project, data.types, data.aggregates)
    except FilterError as exc:
        raise invalid_field(exc.field, exc.message, source="body") from exc
    try:
        await check_target(data.url, allow_private=runtime.settings.webhooks_allow_private)
    except TargetRefused as exc:
        raise invalid_field("url", str(exc), source="body") from exc
    after = await _start_after(runtime, data.from_)
    webhook = Webhook(
        id="wh_" + secrets.token_hex(10),
        project=project,
        url=data.url,
        types=event_filter.types,
        aggregates=event_filter.aggregates,
        secret=new_secret(),
        created_at=datetime.now(UTC),
    )
    try:
        await dispatcher.registry.create(webhook, event_filter, after, runtime.settings.lease_seconds)
    except RegistryError as exc:
        raise _unavailable(exc) from exc
    dispatcher.deliver(webhook)
    created = CreatedWebhook(
        id=webhook.id,
        url=webhook.url,
        types=list(webhook.types),
        aggregates=list(webhook.aggregates),
        created_at=webhook.created_at,
        secret=webhook.secret,
        position=format_cursor(after),
    )
    return _json(created, 201)


@get(
    "/",
    summary="List webhooks",
    description="The project's webhooks with their delivery status (never their secrets).",
    responses={200: ResponseSpec(WebhookList, description="The webhooks", generate_examples=False)},
    opt=also_answers(503),
)
async def list_webhooks(project: FromPath[str], state: State) -> Response[bytes]:
    dispatcher = _dispatcher(state)
    views = [await _view(dispatcher, w) for w in await dispatcher.registry.of_project(project)]
    return _json(WebhookList(views))


@get(
    "/{webhook_id:str}",
    summary="Get a webhook",
    description=(
        "Its delivery status: `position` (the cursor of the last event acknowledged), `pending`, "
        "`last_success_at`, `consecutive_failures`, `last_error`, and `paused`."
    ),
    responses={200: ResponseSpec(WebhookView, description="The webhook", generate_examples=False)},
    opt=also_answers(503),
)
async def get_webhook(project: FromPath[str], webhook_id: FromPath[str], state: State) -> Response[bytes]:
    webhook = await _find(state, project, webhook_id)
    return _json(await _view(_dispatcher(state), webhook))


@post(
    "/{webhook_id:str}/resume",
    summary="Resume a paused webhook",
    description=(
        "Delivers again from `position` (the event whose retries were exhausted comes first), with a "
        "fresh retry schedule. Resuming a webhook that is not paused changes nothing."
    ),
    status_code=200,
    responses={200: ResponseSpec(WebhookView, description="The webhook", generate_examples=False)},
    opt=also_answers(503),
)
async def resume_webhook(project: FromPath[str], webhook_id: FromPath[str], state: State) -> Response[bytes]:
    webhook = await _find(state, project, webhook_id)
    dispatcher = _dispatcher(state)
    try:
        await dispatcher.registry.resume(webhook)
    except RegistryError as exc:
        raise _unavailable(exc) from exc
    return _json(await _view(dispatcher, webhook))


@delete(
    "/{webhook_id:str}",
    summary="Delete a webhook",
    description="Stops its delivery on every instance and forgets its position.",
    status_code=204,
    opt=also_answers(503),
)
async def delete_webhook(project: FromPath[str], webhook_id: FromPath[str], state: State) -> None:
    webhook = await _find(state, project, webhook_id)
    dispatcher = _dispatcher(state)
    await dispatcher.registry.delete(webhook)
    dispatcher.forget(webhook.id)


webhooks_router = Router(
    path=PATH,
    guards=[project_guard],
    tags=["webhooks"],
    route_handlers=[create_webhook, list_webhooks, get_webhook, resume_webhook, delete_webhook],
)
