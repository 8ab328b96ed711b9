"""Client filters: validation, matching, and agreement with NATS's own subject matching."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.msg import Msg

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.contract.filters import EventFilter, FilterError, make_filter, parse_filter, pattern_matches
from runwire.contract.stored_check import stored_event
from runwire.jetstream.event_store import EventStore, StreamSettings

literal = st.sampled_from(["a", "b", "c"])
pattern_token = st.sampled_from(["a", "b", "c", "*"])
type_strategy = st.lists(literal, min_size=1, max_size=3).map(".".join)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(pattern_token, min_size=1, max_size=3))
    if draw(st.booleans()):
        tokens.append(">")
    return ".".join(tokens)


def test_parse_filter_splits_comma_lists() -> None:
    f = parse_filter("p1", types="workflow.node.*, agent.>", aggregates="run-1,run-2")
    assert f == EventFilter("p1", ("workflow.node.*", "agent.>"), ("run-1", "run-2"))


def test_covered_and_duplicate_patterns_are_dropped() -> None:
    f = make_filter("p1", ["workflow.node.completed", "workflow.>", "workflow.>", "agent.run.*"])
    assert f.types == ("workflow.>", "agent.run.*")


def test_a_full_wildcard_means_all_types() -> None:
    assert make_filter("p1", ["x.y", ">"]).types == ()


@pytest.mark.parametrize("bad", ["Workflow", "a..b", "a.>.b", "a b", "a.**", ""])
def test_invalid_type_pattern_names_types(bad: str) -> None:
    with pytest.raises(FilterError) as caught:
        make_filter("p1", [bad])
    assert caught.value.field == "types"


def test_invalid_aggregate_names_aggregates() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("p1", aggregates="ok,not ok")
    assert caught.value.field == "aggregates"


@pytest.mark.parametrize(
    ("types", "aggregates", "field"),
    [
        (",", None, "types"),
        ("a,,b", None, "types"),
        ("a,", None, "types"),
        (" , ", None, "types"),
        (None, ",", "aggregates"),
        (None, "run-1,,run-2", "aggregates"),
    ],
)
def test_empty_entries_in_a_list_name_the_parameter(
    types: str | None, aggregates: str | None, field: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("p1", types, aggregates)
    assert caught.value.field == field
    assert "empty entry" in caught.value.message


def test_an_empty_parameter_means_no_filter() -> None:
    assert parse_filter("p1", types="", aggregates=" ") == EventFilter("p1")


def test_too_many_types_is_rejected() -> None:
    with pytest.raises(FilterError) as caught:
        make_filter("p1", [f"t{i}" for i in range(65)])
    assert caught.value.field == "types"


@pytest.mark.parametrize(
    ("pattern", "type_", "expected"),
    [
        ("workflow.node.completed", "workflow.node.completed", True),
        ("workflow.node.*", "workflow.node.completed", True),
        ("workflow.node.*", "workflow.node", False),
        ("workflow.>", "workflow.node.completed", True),
        ("workflow.>", "workflow", False),
        ("*.node.*", "workflow.node.failed", True),
        ("*", "workflow.node", False),
    ],
)
def test_pattern_semantics(pattern: str, type_: str, expected: bool) -> None:
    assert pattern_matches(pattern, type_) is expected


def test_subjects_of_plain_filters() -> None:
    assert make_filter("p1").subjects() == ["events.p1.>"]
    assert make_filter("p1", ["workflow.>"]).subjects() == ["events.p1.*.workflow.>"]
    assert make_filter("p1", aggregates=["run-42"]).subjects() == ["events.p1.run-42.>"]
    assert make_filter("p1", ["a.b", "c.*"], ["r1", "r2"]).subjects() == [
        "events.p1.r1.a.b",
        "events.p1.r1.c.*",
        "events.p1.r2.a.b",
        "events.p1.r2.c.*",
    ]


def test_partly_overlapping_patterns_fall_back_to_a_wider_subject() -> None:
    # a.*.c and a.b.* both match a.b.c; JetStream refuses such filter sets.
    assert make_filter("p1", ["a.*.c", "a.b.*"]).subjects() == ["events.p1.>"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(patterns(), min_size=1, max_size=4), st.lists(type_strategy, min_size=1, max_size=8))
def test_pattern_matching_agrees_with_nats(
    nats_url: str, pattern_list: list[str], type_list: list[str]
) -> None:
    async def nats_matches() -> set[tuple[str, str]]:
        nc = await nats.connect(nats_url)
        seen: set[tuple[str, str]] = set()
        try:
            for pattern in pattern_list:

                async def on_msg(msg: Msg, pattern: str = pattern) -> None:
                    seen.add((pattern, subjects.parse_unchecked(msg.subject).type))

                await nc.subscribe(f"events.p.x.{pattern}", cb=on_msg)
            for type_ in type_list:
                await nc.publish(f"events.p.x.{type_}", b"")
            await nc.drain()  # a round trip, then every message received is handled
        finally:
            await nc.close()
        return seen

    ours = {(p, t) for p in pattern_list for t in type_list if pattern_matches(p, t)}
    assert asyncio.run(nats_matches()) == ours


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(patterns(), max_size=3),
    st.lists(st.sampled_from(["r1", "r2", "r3"]), max_size=2),
)
def test_stream_reads_select_exactly_the_filtered_events(
    nats_url: str, pattern_list: list[str], aggregates: list[str]
) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        nc = await nats.connect(nats_url)
        try:
            store = EventStore(nc)
            await store.ensure_stream(StreamSettings())
            project = f"f-{uuid.uuid4().hex[:10]}"
            events = [
                new_event(type=t, project=project, source="/test", subject=agg)
                for agg in ("r1", "r2", "r3")
                for t in ("a", "a.b", "a.b.c", "b.c", "c.a.b")
            ]
            await store.publish_many(events)
            event_filter = make_filter(project, pattern_list, aggregates)
            read = [
                event.id
                async for m in store.iter_messages(event_filter, after=0)
                if (event := stored_event(m)) is not None
            ]
            expected = [e.id for e in events if event_filter.matches(subjects.parse(subjects.for_event(e)))]
            return read, expected
        finally:
            await nc.close()

    read, expected = asyncio.run(scenario())
    assert read == expected


def test_server_subjects_are_exact_unless_widened() -> None:
    assert make_filter("p1", ["a.b", "c.*"], ["r1"]).subjects_are_exact
    assert not make_filter("p1", ["a.*.c", "a.b.*"]).subjects_are_exact
