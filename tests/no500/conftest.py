"""The four services, started once per test module against the session's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.no500.services import Services, all_services


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def services(nats_url: str) -> AsyncIterator[Services]:
    async with all_services(nats_url) as running:
        yield running
