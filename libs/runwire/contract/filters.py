"""Client filters (type patterns with NATS `*`/`>` semantics, aggregate lists) and what they match.

A filter has two faces that must agree: the JetStream filter subjects used when reading from the
stream, and the in-process matcher used by the live fan-out. Both are derived here.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from typing import Final

import msgspec

from runwire.contract.subjects import ROOT, EventSubject, SubjectError, check_token

MAX_TYPES: Final = 64
MAX_AGGREGATES: Final = 256
# Above this many JetStream filter subjects a filter is read as its project and matched locally.
MAX_FILTER_SUBJECTS: Final = 256

_PATTERN_TOKEN_RE = re.compile(r"^(?:[a-z0-9_-]+|\*|>)$")


class FilterError(ValueError):
    """An invalid filter; `field` is the query parameter (`types` or `aggregates`)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def check_type_pattern(pattern: str) -> str:
    """Validate a type pattern: dotted tokens of [a-z0-9_-], `*` for one token, `>` for the rest."""
    tokens = pattern.split(".")
    if len(pattern) > 255 or not all(_PATTERN_TOKEN_RE.match(t) for t in tokens):
        raise FilterError(
            "types",
            f"{pattern!r} is not a type pattern: dotted tokens of [a-z0-9_-], `*` for one token, "
            "`>` for all remaining tokens",
        )
    if ">" in tokens[:-1]:
        raise FilterError("types", f"{pattern!r}: `>` may only be the last token")
    return pattern


def pattern_matches(pattern: str, type_: str) -> bool:
    """NATS wildcard semantics on dotted event types."""
    return compile_pattern(pattern)(type_)


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A matcher for one type pattern, compiled once (exact patterns compare strings)."""
    tokens = pattern.split(".")
    if "*" not in tokens and ">" not in tokens:
        return pattern.__eq__
    parts = []
    for token in tokens:
        if token == "*":
            parts.append(r"[^.]+")
        elif token == ">":
            parts.append(r"[^.]+(?:\.[^.]+)*")
        else:
            parts.append(re.escape(token))
    regex = re.compile(r"\.".join(parts))
    return lambda type_: regex.fullmatch(type_) is not None


def _covers(general: list[str], specific: list[str]) -> bool:
    """Whether every subject matched by `specific` is matched by `general` (token lists)."""
    for i, token in enumerate(general):
        if token == ">":
            return len(specific) > i
        if i >= len(specific):
            return False
        other = specific[i]
        if other == ">":
            return False
        if token != "*" and token != other:
            return False
    return len(general) == len(specific)


def _may_overlap(a: list[str], b: list[str]) -> bool:
    """Whether some subject is matched by both token lists."""
    for i in range(max(len(a), len(b))):
        ta = a[i] if i < len(a) else None
        tb = b[i] if i < len(b) else None
        if ta == ">" or tb == ">":
            return ta is not None and tb is not None
        if ta is None or tb is None:
            return False
        if ta != "*" and tb != "*" and ta != tb:
            return False
    return True


def _without_covered(patterns: Iterable[str]) -> tuple[str, ...]:
    """Drop duplicates and patterns that another pattern already covers, keeping the given order."""
    unique = list(dict.fromkeys(patterns))
    split = {p: p.split(".") for p in unique}
    return tuple(p for p in unique if not any(q != p and _covers(split[q], split[p]) for q in unique))


class EventFilter(msgspec.Struct, frozen=True):
    """What a client asked for: one project, optionally some type patterns and aggregate ids."""

    project: str
    types: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()

    def matches(self, subject: EventSubject) -> bool:
        """Whether an event with this subject passes the filter."""
        if subject.project != self.project:
            return False
        if self.aggregates and subject.aggregate not in self.aggregates:
            return False
        return not self.types or any(pattern_matches(p, subject.type) for p in self.types)

    def subjects(self) -> list[str]:
        """JetStream filter subjects for this filter: never overlapping, as the server requires.

        Patterns that partly overlap without one covering the other (`a.*.c` and `a.b.*`) cannot be
        given to JetStream together; such filters read the wider aggregate or project subject and
        rely on `matches` to drop the rest (then `subjects_are_exact` is False).
        """
        return self._server_filter()[0]

    @property
    def subjects_are_exact(self) -> bool:
        """Whether `subjects()` select exactly the matching events, so reads need no `matches`."""
        return self._server_filter()[1]

    def _server_filter(self) -> tuple[list[str], bool]:
        base = f"{ROOT}.{self.project}"
        aggregates = self.aggregates or ("*",)
        types = self.types or (">",)
        token_lists = [t.split(".") for t in types]
        exact = not any(_may_overlap(a, b) for a, b in itertools.combinations(token_lists, 2))
        if not exact:
            types = (">",)
        if len(aggregates) * len(types) > MAX_FILTER_SUBJECTS:
            return [f"{base}.>"], False
        if types == (">",) and aggregates == ("*",):
            return [f"{base}.>"], exact
        return [f"{base}.{agg}.{t}" for agg in aggregates for t in types], exact


def _split(field: str, value: str | None) -> list[str]:
    """A comma list's entries. Absent or empty means none (an HTML form's empty field); an empty
    entry inside a list (`a,,b`, `,`) is refused, since it is never what a client meant."""
    if value is None or not value.strip():
        return []
    parts = [part.strip() for part in value.split(",")]
    if "" in parts:
        raise FilterError(field, f"{value!r} has an empty entry; give a comma list without empty items")
    return parts


def make_filter(project: str, types: Iterable[str] = (), aggregates: Iterable[str] = ()) -> EventFilter:
    """Validate and normalise a filter (duplicate and covered type patterns removed)."""
    try:
        check_token("project", project)
    except SubjectError as exc:
        raise FilterError("project", exc.message) from exc
    type_list = [check_type_pattern(t) for t in types]
    if len(type_list) > MAX_TYPES:
        raise FilterError("types", f"at most {MAX_TYPES} type patterns, got {len(type_list)}")
    aggregate_list = list(dict.fromkeys(aggregates))
    if len(aggregate_list) > MAX_AGGREGATES:
        raise FilterError("aggregates", f"at most {MAX_AGGREGATES} aggregates, got {len(aggregate_list)}")
    for aggregate in aggregate_list:
        try:
            check_token("aggregate", aggregate)
        except SubjectError as exc:
            raise FilterError("aggregates", exc.message) from exc
    normalised = _without_covered(type_list)
    if ">" in normalised:
        normalised = ()
    return EventFilter(project=project, types=normalised, aggregates=tuple(aggregate_list))


def parse_filter(project: str, types: str | None = None, aggregates: str | None = None) -> EventFilter:
    """A filter from the query parameters `types` and `aggregates` (comma-separated lists)."""
    return make_filter(project, _split("types", types), _split("aggregates", aggregates))
