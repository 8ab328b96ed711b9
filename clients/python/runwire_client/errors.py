"""What the client raises: the server's problem+json detail, or why the server could not be reached."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec


class RunwireError(Exception):
    """A request the server refused (4xx/5xx): `status`, and the problem+json `detail` and `field`."""

    def __init__(
        self, status: int, detail: str, *, field: str | None = None, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.detail = detail
        self.field = field
        self.retry_after = retry_after
        super().__init__(f"{status}: {detail}")


class _Problem(msgspec.Struct):
    title: str = ""
    detail: str | None = None
    field: str | None = None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_of(response: httpx.Response, body: bytes) -> RunwireError:
    """The RunwireError of a refused request, with the problem's detail when there is one."""
    detail = body.decode("utf-8", "replace").strip() or response.reason_phrase
    field = None
    if response.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
        try:
            problem: Any = msgspec.json.decode(body, type=_Problem)
            detail = problem.detail or problem.title or detail
            field = problem.field
        except msgspec.DecodeError:
            pass
    return RunwireError(response.status_code, detail, field=field, retry_after=retry_after(response))


RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
