"""Secrets are redacted from log lines, wherever in the line they stand."""

from __future__ import annotations

import logging

import pytest

from runwire.ops import redaction
from runwire.web.auth import issue_token

TOKEN = issue_token("redaction-test-secret-0123456789abcdef", "t", ["p"])


def test_query_access_token_is_redacted() -> None:
    line = f'"WebSocket /v1/projects/p/events/ws?types=a.%3E&access_token={TOKEN}&x=1" [accepted]'
    assert redaction.redact(line) == (
        '"WebSocket /v1/projects/p/events/ws?types=a.%3E&access_token=[redacted]&x=1" [accepted]'
    )


def test_bearer_header_value_is_redacted() -> None:
    assert redaction.redact(f"Authorization: Bearer {TOKEN}") == "Authorization: Bearer [redacted]"


def test_bare_jwt_is_redacted() -> None:
    assert redaction.redact(f"token was {TOKEN}.") == "token was [redacted]."


def test_lines_without_secrets_are_unchanged() -> None:
    line = "GET /v1/projects/p/events?from=earliest 200"
    assert redaction.redact(line) is line


def test_installed_factory_redacts_records_of_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("tests.redaction").info('"WebSocket %s" [accepted]', f"/ws?access_token={TOKEN}")
    messages = [record.getMessage() for record in caplog.records if record.name == "tests.redaction"]
    assert messages == ['"WebSocket /ws?access_token=[redacted]" [accepted]']
