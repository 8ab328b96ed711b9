"""Schemathesis against one running service's OpenAPI document: no 5xx, problem+json on every 4xx.

Runs synchronously (schemathesis sends with `requests`), so a test calls `fuzz` in a worker thread
while the services serve in its event loop. Each operation gets `examples` positive and `examples`
negative cases; half of them address resources that exist (`known` path parameters) so that
generation reaches past the 404s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation

from runwire.web.problems import PROBLEM_JSON

EXAMPLES: Final = int(os.environ.get("RUNWIRE_FUZZ_EXAMPLES", "15"))
# Long polls are cut to this so that a run stays bounded; SSE streams are read this long.
MAX_WAIT_SECONDS: Final = 0.2
STREAM_READ_SECONDS: Final = 0.3
REQUEST_TIMEOUT: Final = (5.0, 30.0)

Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class FuzzReport:
    """How many cases were sent, and every response that broke the rules (with a curl to replay it)."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)


def _is_stream(operation: Operation) -> bool:
    return operation.path.endswith("/events/stream")


def _bounded(case: Case[Operation]) -> Case[Operation]:
    """Cap a long poll's `wait`: it may be any valid number, but the run must not wait for it."""
    query = case.query or {}
    wait = query.get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > MAX_WAIT_SECONDS:
        query["wait"] = MAX_WAIT_SECONDS
    return case


def _verdict(status: int, content_type: str | None) -> str | None:
    if status >= 500:
        return f"{status} (a server error)"
    if 400 <= status < 500 and content_type != PROBLEM_JSON:
        return f"{status} with Content-Type {content_type!r}, not {PROBLEM_JSON}"
    return None


def _fuzz_operation(
    operation: Operation,
    base_url: str,
    headers: Mapping[str, str],
    known: Mapping[str, str],
    examples: int,
) -> FuzzReport:
    report = FuzzReport()
    session = requests.Session()
    timeout = (REQUEST_TIMEOUT[0], STREAM_READ_SECONDS) if _is_stream(operation) else REQUEST_TIMEOUT
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @given(case=cases, use_known=st.booleans())
    @settings(
        max_examples=examples * 2,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Operation], use_known: bool) -> None:
        if use_known and case.path_parameters:
            for name in case.path_parameters:
                if name in known:
                    case.path_parameters[name] = known[name]
        _bounded(case)
        report.cases += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=dict(headers), timeout=timeout)
        except requests.RequestException as exc:
            report.failures.append(
                f"{operation.label}: {type(exc).__name__}: {exc}\n  {case.as_curl_command()}"
            )
            return
        content_types = response.headers.get("content-type")
        problem = _verdict(response.status_code, content_types[0] if content_types else None)
        if problem is not None:
            body = response.content[:300].decode(errors="replace")
            report.failures.append(f"{operation.label}: {problem}: {body}\n  {case.as_curl_command()}")

    run()
    session.close()
    return report


def fuzz(
    document: dict[str, Any],
    base_url: str,
    headers: Mapping[str, str],
    known: Mapping[str, str],
    examples: int = EXAMPLES,
) -> FuzzReport:
    """Fuzz every operation of `document` against the service at `base_url`."""
    schema = schemathesis.openapi.from_dict(document)
    total = FuzzReport()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        report = _fuzz_operation(operation, base_url, headers, known, examples)
        total.cases += report.cases
        total.failures += report.failures
    return total
