"""The last resort: an exception no handler expects still answers problem+json, and is logged with
its traceback so that the bug can be found (the rest of this package makes sure none is left)."""

from __future__ import annotations

import logging

import httpx
import pytest
from litestar import Litestar, get

from runwire.web.problems import PROBLEM_JSON, exception_handlers
from tests.support.http_server import serving


@get("/broken", sync_to_thread=False)
def broken() -> None:
    """A route with a bug in it."""
    raise LookupError("a bug")


async def test_an_unexpected_exception_answers_500_problem_json_and_logs_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # logging_config=None: Litestar's own config would take the root logger's handlers from caplog.
    app = Litestar(route_handlers=[broken], exception_handlers=exception_handlers(), logging_config=None)
    with caplog.at_level(logging.ERROR, logger="runwire.web.problems"):
        async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
            response = await http.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["instance"] == "/broken"
    logged = [r for r in caplog.records if r.name == "runwire.web.problems" and r.exc_info]
    assert [r.exc_info[0] for r in logged if r.exc_info] == [LookupError]
