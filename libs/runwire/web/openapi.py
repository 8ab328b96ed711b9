"""The parts of every service's OpenAPI document that Litestar cannot derive: problem+json errors.

Each app calls `complete_openapi` once it is built. The error responses of every operation are
written here, in one place, from rules over the route (auth guard, parameters, body, aggregate
path, store dependency) plus what a route declares with `also_answers`, so a generated client
knows every status it can get and reads each as RFC 9457 problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from http import HTTPStatus
from typing import Any, Final

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    Schema,
)
from litestar.routes import HTTPRoute

from runwire.contract.envelope import TOKEN_PATTERN
from runwire.contract.ids import IDEMPOTENCY_KEY_HEADER
from runwire.web.auth import project_guard
from runwire.web.problems import PROBLEM_JSON, FieldProblem, Problem

PROBLEM_SCHEMA: Final = "ProblemDetails"
COMPONENT_REF: Final = "#/components/schemas/"
# Request headers over the server's limit (count or size) are refused before any route runs.
HEADERS_TOO_LARGE: Final = 431
_OPT_KEY: Final = "runwire_also_answers"
# What every route checks `{project}` against (runwire.contract.subjects.check_token), so clients can too.
PROJECT_SCHEMA: Final = Schema(type=OpenAPIType.STRING, pattern=TOKEN_PATTERN)
# The dependency a domain service's routes use to reach its repositories (the event store).
_STORE_DEPENDENCY: Final = "runtime"

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Invalid input: `field` names it, `errors` lists every invalid field",
    401: "Missing or invalid bearer token (Authorization header or `access_token` query parameter)",
    403: "The token does not grant this project",
    404: "No such resource in this project",
    409: "The request conflicts with the resource's state, or reuses an Idempotency-Key for another request",
    413: "The request body is over the limit (`detail` says the limit)",
    415: "The request's Content-Type is not one this operation reads",
    431: "The request headers are over the server's limit",
    502: "The event store refused the request",
    503: "The event store is unavailable or the instance is full; retry after `Retry-After` seconds",
}
_RESPONSE_HEADERS: Final[dict[int, dict[str, OpenAPIHeader | Reference]]] = {
    401: {
        "WWW-Authenticate": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING), description='`Bearer realm="runwire"`'
        )
    },
    503: {
        "Retry-After": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
            description="Seconds to wait before retrying",
            required=True,
        )
    },
}


def also_answers(*statuses: int) -> dict[str, Any]:
    """Route `opt` declaring error statuses the rules cannot see (e.g. 503 from the store, 415)."""
    return {_OPT_KEY: tuple(statuses)}


def problem_responses(statuses: Iterable[int]) -> dict[str, OpenAPIResponse | Reference]:
    """The problem+json responses for these statuses, with their headers (Retry-After on 503)."""
    media = {PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref=COMPONENT_REF + PROBLEM_SCHEMA))}
    return {
        str(status): OpenAPIResponse(
            description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            headers=_RESPONSE_HEADERS.get(status),
            content=dict(media),
        )
        for status in sorted(statuses)
    }


def complete_openapi(app: Litestar, *, schemas: Mapping[str, Schema] | None = None) -> OpenAPI:
    """Finish the app's (cached) document in place: the problem schema, `schemas`, and the error
    responses of every HTTP operation. Call once, after the app is built; returns the document."""
    openapi = app.openapi_schema
    components = openapi.components
    components.schemas.update(problem_schemas())
    components.schemas.update(schemas or {})
    openapi.paths = openapi.paths or {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            _document_route(openapi.paths.get(route.path_format or "/"), route)
    return openapi


def problem_schemas() -> dict[str, Schema]:
    """`ProblemDetails` (RFC 9457 plus runwire's `field`, `errors`, `retry_after`) and `FieldProblem`."""
    (_,), defs = msgspec.json.schema_components([Problem], ref_template=COMPONENT_REF + "{name}")
    problem = defs.pop("Problem")
    problem["title"] = PROBLEM_SCHEMA
    problem["description"] = (
        "RFC 9457 problem details. `type` is `urn:runwire:problem:<kind>` (or `about:blank`); "
        "`field` names the offending input and `errors` lists every invalid one."
    )
    defs[PROBLEM_SCHEMA] = problem
    defs[FieldProblem.__name__]["description"] = "One invalid input: where it is and what is wrong"
    renamed = COMPONENT_REF + PROBLEM_SCHEMA

    def rename(ref: str) -> str:
        return renamed if ref == COMPONENT_REF + "Problem" else ref

    return {name: _schema(_map_refs(definition, rename)) for name, definition in defs.items()}


def lift_json_schema(document: Mapping[str, Any]) -> dict[str, Schema]:
    """The `$defs` of a JSON Schema document as OpenAPI components (their refs pointed there)."""

    def rename(ref: str) -> str:
        return COMPONENT_REF + ref.removeprefix("#/$defs/") if ref.startswith("#/$defs/") else ref

    return {
        name: _schema(_map_refs(definition, rename)) for name, definition in document.get("$defs", {}).items()
    }


def _document_route(path_item: PathItem | None, route: HTTPRoute) -> None:
    """Errors as problem+json, the project parameter's rule, no token where no guard asks one."""
    if path_item is None:
        return
    for method, (handler, _) in route.route_handler_map.items():
        operation = getattr(path_item, method.lower(), None)
        if not isinstance(operation, Operation) or not handler.resolve_include_in_schema():
            continue
        responses = dict(operation.responses or {})
        for status in list(responses):
            if status[:1] in ("4", "5"):
                del responses[status]  # Litestar's own application/json error shape is not what is sent
        responses.update(problem_responses(_error_statuses(handler, operation, method, route)))
        operation.responses = responses
        for parameter in operation.parameters or ():
            if (
                isinstance(parameter, Parameter)
                and parameter.param_in == "path"
                and parameter.name == "project"
            ):
                parameter.schema = PROJECT_SCHEMA
                parameter.description = "The project id (tenant scope); the token must grant it"
        if not _guarded(handler):
            operation.security = []


def _error_statuses(
    handler: HTTPRouteHandler, operation: Operation, method: str, route: HTTPRoute
) -> set[int]:
    """Every error status this operation can answer, from its route's shape and declarations."""
    statuses = {HEADERS_TOO_LARGE}
    path_params = set(route.path_parameters)
    if _guarded(handler):
        statuses.add(401)
        if "project" in path_params:
            statuses.add(403)
    if operation.parameters or operation.request_body:
        statuses.add(400)
    if operation.request_body:
        statuses.add(413)
    aggregate_params = path_params - {"project"}
    if aggregate_params:
        statuses.add(404)
    if method == "POST" and (aggregate_params or _has_header(operation, IDEMPOTENCY_KEY_HEADER)):
        statuses.add(409)
    if _STORE_DEPENDENCY in handler.parsed_fn_signature.parameters:
        statuses.add(503)
    statuses.update(handler.opt.get(_OPT_KEY, ()))
    return statuses


def _guarded(handler: HTTPRouteHandler) -> bool:
    """Whether the bearer-token guard runs for this handler (Litestar wraps resolved guards)."""
    return any(project_guard in (layer.guards or ()) for layer in handler.ownership_layers)


def _has_header(operation: Operation, name: str) -> bool:
    return any(
        isinstance(p, Parameter) and p.param_in == "header" and p.name.lower() == name.lower()
        for p in operation.parameters or ()
    )


def _map_refs(value: Any, rename: Callable[[str], str]) -> Any:
    """`value` with every `$ref` passed through `rename`."""
    if isinstance(value, dict):
        return {
            key: rename(item) if key == "$ref" and isinstance(item, str) else _map_refs(item, rename)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_map_refs(item, rename) for item in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# JSON Schema keyword -> Schema field; and which keywords hold sub-schemas.
_KEYWORDS: Final = {str(f.metadata.get("alias") or _camel(f.name)): f.name for f in fields(Schema)}
_SUBSCHEMA: Final = {
    *("not", "if", "then", "else", "items", "contains", "propertyNames", "additionalProperties"),
    *("unevaluatedItems", "unevaluatedProperties", "contentSchema"),
}
_SUBSCHEMA_LISTS: Final = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SUBSCHEMA_MAPS: Final = {"properties", "patternProperties", "dependentSchemas"}


def _schema(document: Mapping[str, Any]) -> Schema:
    """A JSON Schema (2020-12, what OpenAPI 3.1 uses) as Litestar's typed Schema."""
    kwargs: dict[str, Any] = {}
    for keyword, value in document.items():
        if keyword not in _KEYWORDS:
            raise ValueError(f"JSON Schema keyword {keyword!r} has no OpenAPI Schema field")
        if keyword in _SUBSCHEMA and isinstance(value, dict):
            value = _schema_or_ref(value)
        elif keyword in _SUBSCHEMA_LISTS:
            value = [_schema_or_ref(item) for item in value]
        elif keyword in _SUBSCHEMA_MAPS:
            value = {name: _schema_or_ref(item) for name, item in value.items()}
        kwargs[_KEYWORDS[keyword]] = value
    return Schema(**kwargs)


def _schema_or_ref(document: Mapping[str, Any]) -> Schema | Reference:
    if set(document) == {"$ref"}:
        return Reference(ref=document["$ref"])
    return _schema(document)
