"""Service-specific tunables (chunk sizes, delays) from `RUNWIRE_<SERVICE>_*` environment variables.

`runwire.ops.settings.Settings` holds what every process shares; each domain service declares its own
few knobs as a msgspec Struct and reads them here, validated at start like the shared settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import msgspec

from runwire.ops.settings import environment_values

T = TypeVar("T", bound=msgspec.Struct)


class TunablesError(ValueError):
    """A `RUNWIRE_<SERVICE>_*` variable has a bad value; the message names it."""


def load_tunables(cls: type[T], prefix: str, environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from the variables `prefix` + FIELD (e.g. RUNWIRE_INGEST_CHUNK_SIZE), else defaults."""
    values, problems = environment_values(cls, prefix, environ)
    if problems:
        raise TunablesError("\n".join(problems))
    return cls(**values)
