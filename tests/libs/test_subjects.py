"""The subject scheme events.<project>.<aggregate>.<type>: build, parse, reject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.contract.subjects import EventSubject, SubjectError

tokens = st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z")
type_tokens = st.from_regex(r"\A[a-z0-9_-]{1,12}\Z")
types = st.lists(type_tokens, min_size=1, max_size=5).map(".".join)


@given(tokens, tokens, types)
def test_build_then_parse_round_trips(project: str, aggregate: str, type_: str) -> None:
    subject = subjects.build(project, aggregate, type_)
    assert subjects.parse(subject) == EventSubject(project, aggregate, type_)
    assert subjects.parse_unchecked(subject) == EventSubject(project, aggregate, type_)


def test_subject_of_an_event() -> None:
    event = new_event(type="workflow.node.completed", project="p1", source="/s", subject="run-42")
    assert subjects.for_event(event) == "events.p1.run-42.workflow.node.completed"


def test_project_wide_event_uses_underscore_aggregate() -> None:
    event = new_event(type="project.renamed", project="p1", source="/s")
    assert subjects.for_event(event) == "events.p1._.project.renamed"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("p.1", "a", "t"), "project"),
        (("p1", "a b", "t"), "aggregate"),
        (("p1", "a", "T"), "type"),
        (("p1", "a", "t..u"), "type"),
        (("", "a", "t"), "project"),
        (("p1", "a" * 129, "t"), "aggregate"),
    ],
)
def test_build_rejects_invalid_parts(args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(SubjectError) as caught:
        subjects.build(*args)
    assert caught.value.field == field


@pytest.mark.parametrize("subject", ["events.p1.a", "other.p1.a.t", "events.p1.a.T", "events..a.t"])
def test_parse_rejects_foreign_subjects(subject: str) -> None:
    with pytest.raises(SubjectError):
        subjects.parse(subject)


def test_filters_of_project_and_aggregate() -> None:
    assert subjects.project_filter("p1") == "events.p1.>"
    assert subjects.aggregate_filter("p1", "run-42") == "events.p1.run-42.>"
