"""Aggregate ids: fresh ones, ones derived from an Idempotency-Key, and request fingerprints.

An id derived from `(project, kind, key)` makes a retried create land on the same aggregate, whose
stored fingerprint tells a true retry (same request) from a reused key (different request).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Final

import msgspec

from runwire.contract.rejections import InvalidCommand

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
ID_NAMESPACE: Final = uuid.UUID("0c7b7d42-96a4-4a4f-8a8e-6c1f3f0f4b25")
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_encoder = msgspec.json.Encoder(order="deterministic")


def new_id(prefix: str) -> str:
    """A fresh aggregate id such as `job-3f2a...` (a valid subject token)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def keyed_id(prefix: str, project: str, key: str) -> str:
    """The aggregate id that an Idempotency-Key always maps to within a project."""
    return f"{prefix}-{uuid.uuid5(ID_NAMESPACE, f'{project}/{prefix}/{key}').hex[:20]}"


def check_idempotency_key(key: str) -> str:
    """The key if it is 1-255 printable ASCII characters without spaces, else InvalidCommand."""
    if not _KEY_RE.match(key):
        raise InvalidCommand(
            f"{IDEMPOTENCY_KEY_HEADER} must be 1-255 printable ASCII characters without spaces",
            field=IDEMPOTENCY_KEY_HEADER,
        )
    return key


def fingerprint(request: object) -> str:
    """A stable digest of a request body: equal requests, equal fingerprints."""
    return hashlib.sha256(_encoder.encode(request)).hexdigest()[:32]
