"""The subject scheme `events.<project>.<aggregate>.<type>`: building it and parsing it back.

Every event's place in JetStream is derived from its envelope here and nowhere else, so that
producers in any language and the stream API agree on it.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from runwire.contract.envelope import PROJECT_WIDE, TOKEN_PATTERN, TYPE_PATTERN, CloudEvent

ROOT: Final = "events"
STREAM_SUBJECTS: Final = f"{ROOT}.>"

_TOKEN_RE = re.compile(TOKEN_PATTERN)
_TYPE_RE = re.compile(TYPE_PATTERN)


class SubjectError(ValueError):
    """An id or subject that does not fit the scheme; `field` names which part."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class EventSubject(NamedTuple):
    """The three parts of an event subject."""

    project: str
    aggregate: str
    type: str


def check_token(field: str, value: str) -> str:
    """Return `value` if it is a valid project/aggregate token, else raise SubjectError naming `field`."""
    if not _TOKEN_RE.match(value):
        raise SubjectError(field, f"{value!r} is not 1-128 characters of [A-Za-z0-9_-]")
    return value


def check_type(value: str) -> str:
    """Return `value` if it is a valid event type, else raise SubjectError."""
    if len(value) > 255 or not _TYPE_RE.match(value):
        raise SubjectError("type", f"{value!r} is not dotted lowercase tokens of [a-z0-9_-]")
    return value


def build(project: str, aggregate: str, type: str) -> str:
    """`events.<project>.<aggregate>.<type>`, validating every part."""
    return (
        f"{ROOT}.{check_token('project', project)}.{check_token('aggregate', aggregate)}.{check_type(type)}"
    )


def for_event(event: CloudEvent) -> str:
    """The subject an event is stored under (its envelope is already validated)."""
    return f"{ROOT}.{event.project}.{event.aggregate}.{event.type}"


def parse(subject: str) -> EventSubject:
    """Split an event subject into its parts, or raise SubjectError."""
    parts = subject.split(".", 3)
    if len(parts) != 4 or parts[0] != ROOT:
        raise SubjectError("subject", f"{subject!r} is not {ROOT}.<project>.<aggregate>.<type>")
    _, project, aggregate, type_ = parts
    check_token("project", project)
    check_token("aggregate", aggregate)
    check_type(type_)
    return EventSubject(project, aggregate, type_)


def parse_unchecked(subject: str) -> EventSubject:
    """Split a subject known to come from the EVENTS stream; the hot path skips re-validation."""
    _, project, aggregate, type_ = subject.split(".", 3)
    return EventSubject(project, aggregate, type_)


def project_filter(project: str) -> str:
    """Every event of a project."""
    return f"{ROOT}.{check_token('project', project)}.>"


def aggregate_filter(project: str, aggregate: str = PROJECT_WIDE) -> str:
    """Every event of one aggregate: the subject filter of its optimistic-concurrency checks."""
    return f"{ROOT}.{check_token('project', project)}.{check_token('aggregate', aggregate)}.>"
