"""RFC 9457 problem details for every 4xx/5xx that a runwire service answers.

Each service installs `exception_handlers()` so a client in any language gets one error shape,
with the offending field named in `field` (and every field in `errors`).
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:runwire:problem:"


class FieldProblem(msgspec.Struct, omit_defaults=True):
    """One invalid input: where it is (`field`, `source`) and what is wrong with it."""

    field: str
    message: str
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """The RFC 9457 body."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = None
    errors: list[FieldProblem] | None = None
    retry_after: int | None = None


class ProblemError(HTTPException):
    """An error to answer as problem+json; `kind` becomes the type URN, `field` names the input."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        kind: str,
        title: str | None = None,
        field: str | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.kind = kind
        self.title = title or kind.replace("-", " ").capitalize()
        self.field = field
        self.errors = errors if errors is not None else ([FieldProblem(field, detail)] if field else None)


def invalid_field(field: str, message: str, *, source: str = "query", status_code: int = 400) -> ProblemError:
    """A 400 naming one input field."""
    return ProblemError(
        status_code,
        f"{field}: {message}",
        kind="invalid-input",
        title="Invalid input",
        field=field,
        errors=[FieldProblem(field, message, source)],
    )


def problem_response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_of(exc: ProblemError, instance: str) -> Problem:
    """The RFC 9457 body of a ProblemError: the same for an HTTP response and a refused upgrade."""
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    return Problem(
        type=TYPE_PREFIX + exc.kind,
        title=exc.title,
        status=exc.status_code,
        detail=exc.detail,
        instance=instance,
        field=exc.field,
        errors=exc.errors,
        retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _problem_error_handler(request: Request[Any, Any, Any], exc: ProblemError) -> Response[bytes]:
    return problem_response(request, problem_of(exc, request.url.path), exc.headers)


def _validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors: list[FieldProblem] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append(
                    FieldProblem(
                        field=str(item.get("key") or "body"),
                        message=str(item.get("message", "invalid")),
                        source=str(item["source"]) if item.get("source") else None,
                    )
                )
    field = errors[0].field if errors else None
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or exc.detail
    problem = Problem(
        type=TYPE_PREFIX + "invalid-input",
        title="Invalid input",
        status=400,
        detail=detail,
        instance=request.url.path,
        field=field,
        errors=errors or None,
    )
    return problem_response(request, problem, exc.headers)


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    problem = Problem(
        type="about:blank",
        title=_reason(exc.status_code),
        status=exc.status_code,
        detail=exc.detail,
        instance=request.url.path,
    )
    return problem_response(request, problem, exc.headers)


def _internal_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = Problem(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="the server failed to handle this request; it has been logged",
        instance=request.url.path,
    )
    return problem_response(request, problem, None)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def exception_handlers() -> ExceptionHandlersMap:
    """The handlers a Litestar app installs to answer every error as problem+json."""
    return {
        ProblemError: _problem_error_handler,
        ValidationException: _validation_handler,
        HTTPException: _http_handler,
        Exception: _internal_handler,
    }


__all__ = [
    "PROBLEM_JSON",
    "FieldProblem",
    "MediaType",
    "Problem",
    "ProblemError",
    "exception_handlers",
    "invalid_field",
]
