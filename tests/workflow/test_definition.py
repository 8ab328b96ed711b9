"""Definition validation: every way a definition can be wrong is a 400 naming the node and field."""

from __future__ import annotations

from typing import Any

import pytest

from runwire_workflow.api import read_definition
from runwire_workflow.domain.definition import (
    AgentNode,
    DefinitionError,
    DelayNode,
    GateNode,
    IngestNode,
    parse_definition,
    topological_order,
)


def nodes(*items: object) -> dict[str, Any]:
    return {"nodes": list(items)}


DELAY = {"kind": "delay", "seconds": 1}

INVALID: list[tuple[str, Any, str, str]] = [
    ("not an object", [1, 2], "definition", "a workflow definition must be an object with `nodes`"),
    ("no nodes", {"name": "x"}, "nodes", "`nodes` must be a non-empty list of nodes"),
    ("empty nodes", nodes(), "nodes", "`nodes` must be a non-empty list of nodes"),
    ("node not an object", nodes("a"), "nodes[0]", "node #0 must be an object"),
    (
        "unknown kind",
        nodes({"id": "a", "kind": "email"}),
        "nodes[0].kind",
        "node 'a': unknown kind 'email'; a node is one of ingest, agent, gate, delay",
    ),
    (
        "missing kind",
        nodes({"id": "a"}),
        "nodes[0].kind",
        "node 'a': unknown kind None; a node is one of ingest, agent, gate, delay",
    ),
    (
        "missing field",
        nodes({"id": "a", "kind": "ingest"}),
        "nodes[0].document",
        "node 'a': document: is required",
    ),
    (
        "unknown field",
        nodes({"id": "a", **DELAY, "colour": "red"}),
        "nodes[0].colour",
        "node 'a': colour: unknown field `colour`",
    ),
    (
        "value out of range",
        nodes({"id": "a", "kind": "delay", "seconds": -1}),
        "nodes[0].seconds",
        "node 'a': seconds: Expected `float` >= 0.0",
    ),
    (
        "bad on_timeout",
        nodes({"id": "g", "kind": "gate", "on_timeout": "maybe"}),
        "nodes[0].on_timeout",
        "node 'g': on_timeout: Invalid enum value 'maybe'",
    ),
    (
        "bad node id",
        nodes({"id": "a b", **DELAY}),
        "nodes[0].id",
        "node 'a b': id: Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$'",
    ),
    (
        "duplicate id",
        nodes({"id": "a", **DELAY}, {"id": "a", **DELAY}),
        "nodes[1].id",
        "node 'a' is defined twice",
    ),
    (
        "self dependency",
        nodes({"id": "a", **DELAY, "needs": ["a"]}),
        "nodes[0].needs",
        "node 'a' needs itself",
    ),
    (
        "unknown dependency",
        nodes({"id": "a", **DELAY}, {"id": "b", **DELAY, "needs": ["a", "z"]}),
        "nodes[1].needs",
        "node 'b' needs unknown node 'z'",
    ),
    (
        "cycle",
        nodes(
            {"id": "a", **DELAY, "needs": ["c"]},
            {"id": "b", **DELAY, "needs": ["a"]},
            {"id": "c", **DELAY, "needs": ["b"]},
        ),
        "nodes[0].needs",
        "node 'a' is in a cycle: a -> c -> b -> a",
    ),
    (
        "unknown top-level field",
        {**nodes({"id": "a", **DELAY}), "steps": []},
        "steps",
        "steps: unknown field `steps`",
    ),
    (
        "empty name",
        {"name": "", **nodes({"id": "a", **DELAY})},
        "name",
        "name: Expected `str` of length >= 1",
    ),
]


@pytest.mark.parametrize(("raw", "field", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_definitions_name_the_node_and_field(raw: Any, field: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw)
    assert (caught.value.field, caught.value.detail, caught.value.status) == (field, message, 400)


def test_a_valid_definition_keeps_every_node_typed_by_kind() -> None:
    definition = parse_definition(
        nodes(
            {"id": "load", "kind": "ingest", "document": "text"},
            {"id": "ask", "kind": "agent", "prompt": "q", "needs": ["load"]},
            {"id": "ok", "kind": "gate", "timeout_seconds": 2, "on_timeout": "approve", "needs": ["ask"]},
            {"id": "pause", "kind": "delay", "seconds": 0.5, "needs": ["ok"]},
        )
    )
    assert [type(n) for n in definition.nodes] == [IngestNode, AgentNode, GateNode, DelayNode]
    assert definition.name == "workflow"


def test_topological_order_puts_each_node_after_its_needs() -> None:
    definition = parse_definition(
        nodes(
            {"id": "d", **DELAY, "needs": ["b", "c"]},
            {"id": "b", **DELAY, "needs": ["a"]},
            {"id": "c", **DELAY, "needs": ["a"]},
            {"id": "a", **DELAY},
        )
    )
    assert topological_order(definition) == ["a", "b", "c", "d"]


def test_yaml_and_json_bodies_read_the_same() -> None:
    yaml = b"name: w\nnodes:\n  - id: a\n    kind: delay\n    seconds: 1\n"
    json = b'{"name": "w", "nodes": [{"id": "a", "kind": "delay", "seconds": 1}]}'
    assert read_definition(yaml, "application/yaml") == read_definition(json, "application/json")


def test_malformed_yaml_is_a_400_on_the_body() -> None:
    with pytest.raises(DefinitionError) as caught:
        read_definition(b"nodes: [unclosed", "text/yaml")
    assert caught.value.field == "body"
    assert caught.value.detail.startswith("malformed YAML")
