"""Workflow definitions: DAGs of `ingest`, `agent`, `gate` and `delay` nodes, with errors naming the node.

A definition arrives as JSON or YAML; every problem (a bad kind, a bad field, an unknown or cyclic
dependency) is reported as a 400 whose `field` points into the document and whose message names
the node by its id.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

from runwire.contract.rejections import InvalidCommand

NodeId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="[A-Za-z0-9_-]{1,64}")]
MAX_NODES: Final = 100


class NodeBase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """What every node has: an id and the nodes it needs to have completed first."""

    id: NodeId
    needs: list[NodeId] = []


class IngestNode(NodeBase, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="ingest"):
    """Ingest `document` through the ingest service; output: the job id and its counts."""

    document: Annotated[str, msgspec.Meta(min_length=1)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "document.txt"
    chunk_size: Annotated[int, msgspec.Meta(ge=50, le=8000)] | None = None
    chunk_overlap: Annotated[int, msgspec.Meta(ge=0, le=4000)] | None = None


class AgentNode(NodeBase, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="agent"):
    """Run the agent on `prompt`, searching every ingest job upstream; output: its answer."""

    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    max_steps: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class GateNode(NodeBase, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="gate"):
    """Wait for a human to approve or reject; after `timeout_seconds`, decide `on_timeout` instead."""

    message: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=7 * 86400)] | None = None
    on_timeout: Literal["approve", "reject"] = "reject"


class DelayNode(NodeBase, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="delay"):
    """Wait `seconds`, then complete."""

    seconds: Annotated[float, msgspec.Meta(ge=0, le=86400)]


Node = IngestNode | AgentNode | GateNode | DelayNode
NODE_TYPES: Final[dict[str, type[NodeBase]]] = {
    "ingest": IngestNode,
    "agent": AgentNode,
    "gate": GateNode,
    "delay": DelayNode,
}


class Definition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A workflow: a name and its nodes (a DAG through `needs`)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] = "workflow"
    nodes: Annotated[list[Node], msgspec.Meta(min_length=1, max_length=MAX_NODES)]

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


def kind_of(node: NodeBase) -> str:
    """The node's kind (its tag)."""
    return str(type(node).__struct_config__.tag)


class DefinitionError(InvalidCommand):
    """A definition that is not a valid workflow; `field` points at the offending part."""


def _where(error: msgspec.ValidationError) -> tuple[str, str]:
    """(dotted path below the object, message) of a msgspec validation error."""
    text = str(error)
    message, _, at = text.partition(" - at `$")
    path = at.rstrip("`").lstrip(".")
    if "unknown field" in message:
        name = message.split("`")[1]
        return name, f"unknown field `{name}`"
    if "missing required field" in message:
        name = message.split("`")[1]
        return name, "is required"
    return path, message


def parse_definition(raw: Any) -> Definition:
    """A validated Definition from decoded JSON/YAML, or DefinitionError naming the node and field."""
    if not isinstance(raw, dict):
        raise DefinitionError("a workflow definition must be an object with `nodes`", field="definition")
    nodes = raw.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise DefinitionError("`nodes` must be a non-empty list of nodes", field="nodes")
    if len(nodes) > MAX_NODES:
        raise DefinitionError(f"a workflow has at most {MAX_NODES} nodes, got {len(nodes)}", field="nodes")
    parsed: list[Node] = []
    for index, item in enumerate(nodes):
        parsed.append(_parse_node(index, item))
    try:
        header = msgspec.convert({**raw, "nodes": []}, _Header)
    except msgspec.ValidationError as exc:
        field, message = _where(exc)
        raise DefinitionError(f"{field}: {message}", field=field) from exc
    _check_graph(parsed)
    return Definition(name=header.name, nodes=parsed)


class _Header(msgspec.Struct, forbid_unknown_fields=True):
    """The definition's own fields, checked apart from its nodes."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] = "workflow"
    nodes: list[Any] = []


def _parse_node(index: int, item: Any) -> Node:
    where = f"nodes[{index}]"
    if not isinstance(item, dict):
        raise DefinitionError(f"node #{index} must be an object", field=where)
    node_id = item.get("id")
    label = repr(node_id) if isinstance(node_id, str) else f"#{index}"
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in NODE_TYPES:
        raise DefinitionError(
            f"node {label}: unknown kind {kind!r}; a node is one of {', '.join(NODE_TYPES)}",
            field=f"{where}.kind",
        )
    try:
        node: Node = msgspec.convert(item, NODE_TYPES[kind])  # type: ignore[assignment]
    except msgspec.ValidationError as exc:
        field, message = _where(exc)
        raise DefinitionError(f"node {label}: {field}: {message}", field=f"{where}.{field}") from exc
    return node


def _check_graph(nodes: list[Node]) -> None:
    """Unique ids, known dependencies, no self-dependency, no cycle."""
    seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if node.id in seen:
            raise DefinitionError(f"node {node.id!r} is defined twice", field=f"nodes[{index}].id")
        seen[node.id] = index
    for index, node in enumerate(nodes):
        for dep in node.needs:
            if dep == node.id:
                raise DefinitionError(f"node {node.id!r} needs itself", field=f"nodes[{index}].needs")
            if dep not in seen:
                raise DefinitionError(
                    f"node {node.id!r} needs unknown node {dep!r}", field=f"nodes[{index}].needs"
                )
    cycle = _find_cycle(nodes)
    if cycle:
        raise DefinitionError(
            f"node {cycle[0]!r} is in a cycle: {' -> '.join(cycle)}", field=f"nodes[{seen[cycle[0]]}].needs"
        )


def _find_cycle(nodes: list[Node]) -> list[str] | None:
    """A dependency cycle as a path that returns to its start, or None (depth-first, definition order)."""
    needs = {n.id: n.needs for n in nodes}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        path.append(node_id)
        for dep in needs[node_id]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node_id] = 2
        return None

    for node in nodes:
        if node.id not in state and (found := visit(node.id)):
            return found
    return None


def topological_order(definition: Definition) -> list[str]:
    """Node ids so that each comes after everything it needs (ties in definition order)."""
    done: list[str] = []
    remaining = list(definition.nodes)
    while remaining:
        ready = [n for n in remaining if all(dep in done for dep in n.needs)]
        done.extend(n.id for n in ready)
        remaining = [n for n in remaining if n.id not in done]
    return done
