"""The kit's ProcessManager on a real nats-server: events followed from a position become commands,
timers fire under the aggregate's lock. (How replicas share work: test_work_leases.py.)"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from runwire.contract.stored_check import stored_event
from runwire.es.application import Application
from runwire.es.process import ProcessManager, ProcessSettings
from runwire.jetstream.event_store import EventStore
from runwire.jetstream.stream_reader import StoredMessage
from tests.integration.test_domain_aggregate import Added, Counter, add, repository
from tests.support.eventually import eventually


class Mirror(ProcessManager[Counter, Added]):
    """Adds every amount added to the counter `source` of its project to the counter `mirror`."""

    created_type = "test.counter.added"
    terminal_types = ()
    aggregate_types = "test.counter.>"
    follows = ("test.counter.added",)

    def __init__(self, app: Application[Counter, Added], project: str) -> None:
        super().__init__(app, "mirror", ProcessSettings(shared=False))
        self.project = project

    async def react(self, message: StoredMessage) -> None:
        event = stored_event(message)
        if event is not None and (event.project, event.subject) == (self.project, "source"):
            await self.handle(self.project, "mirror", add(int(event.data["amount"])))


async def mirrored(app: Application[Counter, Added], project: str, total: int) -> bool | None:
    loaded = await app.load(project, "mirror")
    return True if loaded.state.total == total else None


async def test_followed_events_become_commands_from_where_the_process_started(
    store: EventStore, project: str
) -> None:
    app = repository(store)
    await app.execute(project, "source", add(7))  # before the start: not followed
    process = Mirror(app, project)
    async with contextlib.aclosing(process):
        await process.start()
        await app.execute(project, "source", add(2))
        await app.execute(project, "source", add(3))
        await eventually(lambda: mirrored(app, project, 5))


async def test_a_timer_fires_its_command_under_the_aggregates_lock(store: EventStore, project: str) -> None:
    app = repository(store)
    process = Mirror(app, project)
    fired_locked: list[bool] = []

    async def fire() -> None:
        fired_locked.append(process.lock(project, "mirror").locked())
        await app.execute(project, "mirror", add(100))

    async with contextlib.aclosing(process):
        await process.start()
        process.timer(project, "mirror", "once", datetime.now(UTC), fire)
        await eventually(lambda: mirrored(app, project, 100))
    assert fired_locked == [True]
