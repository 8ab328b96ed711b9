"""Each subscriber counts once: a filter whose type patterns overlap is one recipient of an event."""

from __future__ import annotations

from runwire.contract.filters import EventFilter, make_filter
from runwire_stream_api.client_stream import Phase
from runwire_stream_api.frames import Frame
from runwire_stream_api.index import SubscriptionIndex
from tests.stream_api.conftest import StreamAPI, event
from tests.support.eventually import eventually
from tests.support.stream_clients import sse

OVERLAPPING = "a.*.c,a.b.*"  # neither covers the other, so the filter keeps both


class Inbox:
    """A subscriber that keeps what it is offered."""

    def __init__(self, event_filter: EventFilter) -> None:
        self.event_filter = event_filter
        self.offered: list[int] = []

    def offer(self, frame: Frame, now: float) -> bool:
        self.offered.append(frame.seq)
        return False


def test_match_returns_a_subscriber_with_overlapping_patterns_once() -> None:
    index = SubscriptionIndex()
    overlapping = Inbox(make_filter("p", OVERLAPPING.split(",")))
    everything = Inbox(make_filter("p"))
    index.add(overlapping)
    index.add(everything)
    matched = index.match("p", "x", "a.b.c")
    assert sorted(map(id, matched)) == sorted([id(overlapping), id(everything)])
    assert sorted(map(id, index.match("p", "x", "a.z.c"))) == sorted([id(overlapping), id(everything)])
    assert index.match("p", "x", "b.b.c") == [everything]


def test_removing_twice_or_a_stranger_leaves_the_index_intact() -> None:
    index = SubscriptionIndex()
    member = Inbox(make_filter("p", ["a.>"]))
    index.add(member)
    index.remove(Inbox(make_filter("p")))
    index.remove(member)
    index.remove(member)
    assert len(index) == 0
    assert index.match("p", "x", "a.b") == []


async def test_a_client_with_overlapping_patterns_is_one_recipient(api: StreamAPI, project: str) -> None:
    token = api.token()
    async with (
        sse(api.base, project, token, {"types": OVERLAPPING}) as overlapping,
        sse(api.base, project, token) as everything,
    ):

        async def both_live() -> bool | None:
            live = [
                c for c in api.runtime.clients if c.event_filter.project == project and c.phase is Phase.LIVE
            ]
            return True if len(live) == 2 else None

        await eventually(both_live)
        [cursor] = await api.publish(project, [event(project, "a.b.c")])
        got = await overlapping.read_events(1)
        await everything.read_events(1)
        trace = await api.http.get(
            f"/v1/projects/{project}/events/{cursor}/trace", headers={"Authorization": f"Bearer {token}"}
        )
    assert [m.id for m in got] == [cursor]
    assert trace.status_code == 200, trace.text
    assert trace.json()["recipients"] == 2
