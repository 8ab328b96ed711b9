"""Service-specific tunables (chunk sizes, delays) from `RUNWIRE_<SERVICE>_*` environment variables.

`runwire.settings.Settings` holds what every process shares; each domain service declares its own
few knobs as a msgspec Struct and reads them here, validated at start like the shared settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TypeVar

import msgspec

T = TypeVar("T", bound=msgspec.Struct)

_FIELD_RE = re.compile(r"at `\$\.([A-Za-z0-9_]+)`")


class TunablesError(ValueError):
    """A `RUNWIRE_<SERVICE>_*` variable has a bad value; the message names it."""


def load_tunables(cls: type[T], prefix: str, environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from the variables `prefix` + FIELD (e.g. RUNWIRE_INGEST_CHUNK_SIZE), else defaults."""
    env = os.environ if environ is None else environ
    raw = {
        field.name: env[prefix + field.name.upper()]
        for field in msgspec.structs.fields(cls)
        if env.get(prefix + field.name.upper())
    }
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        match = _FIELD_RE.search(str(exc))
        name = prefix + match.group(1).upper() if match else prefix + "*"
        message = _FIELD_RE.sub("", str(exc)).rstrip(" -")
        raise TunablesError(f"{name}={raw.get(match.group(1)) if match else ''!r}: {message}") from exc
