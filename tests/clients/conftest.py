"""The Python client's tests run against real stream API instances (the stream API's fixtures)."""

from __future__ import annotations

from tests.stream_api.conftest import api, start_api, unique

__all__ = ["api", "start_api", "unique"]
