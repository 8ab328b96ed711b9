"""Secrets never reach a log line: bearer tokens are redacted from every log record, wherever they stand.

Tokens ride in URLs (`?access_token=`, for browsers' EventSource), and uvicorn logs request paths with
their query strings; redacting as records are made catches every logger, ours and our dependencies'.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Final

REDACTED: Final = "[redacted]"

# `access_token=...` in a query string, and anything shaped like a JWT (three base64url parts,
# the first two starting with `eyJ`, i.e. a JSON object).
_QUERY_TOKEN: Final = re.compile(r"(?i)((?:access_token|token)=)[^&\s\"']+")
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER: Final = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """`text` with every token-looking value replaced by `[redacted]`."""
    if "token" not in text.lower() and "eyJ" not in text and "earer" not in text:
        return text
    text = _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _redacting(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return record

    make.redacts = True  # type: ignore[attr-defined]
    return make


def install() -> None:
    """Redact secrets in every log record this process creates, whatever handler or format writes it.

    At record creation rather than on a handler: Litestar and uvicorn install handlers of their own.
    """
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacts", False):
        logging.setLogRecordFactory(_redacting(factory))
