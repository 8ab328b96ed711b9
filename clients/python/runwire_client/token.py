"""Minting the stream API's bearer tokens (HS256 JWTs with `sub`, `projects`, `iat`, `exp`).

Done with hmac and hashlib so the client needs no JWT library; the server verifies them with PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable

import msgspec

ALL_PROJECTS = "*"
_TTL = re.compile(r"(\d+)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def parse_ttl(text: str) -> int:
    """Seconds in `90`, `90s`, `30m`, `1h` or `7d`."""
    match = _TTL.fullmatch(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"ttl must be a positive number with an optional unit s, m, h or d, got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def mint_token(
    secret: str, projects: Iterable[str] | str, *, sub: str = "runwire-cli", ttl_seconds: int = 3600
) -> str:
    """A token for `sub` that may read and publish `projects` (`"*"`: all) for `ttl_seconds`."""
    claim: str | list[str] = ALL_PROJECTS if projects == ALL_PROJECTS else sorted(projects)
    now = int(time.time())
    header = _b64(msgspec.json.encode({"alg": "HS256", "typ": "JWT"}))
    payload = _b64(msgspec.json.encode({"sub": sub, "projects": claim, "iat": now, "exp": now + ttl_seconds}))
    signing_input = header + b"." + payload
    signature = _b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()
