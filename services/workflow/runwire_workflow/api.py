"""The workflow API's request and response bodies, and reading a definition from JSON or YAML."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
import msgspec.yaml

from runwire.contract.undecodable import UNDECODABLE, undecodable_reason
from runwire_workflow.domain.definition import (
    Definition,
    DefinitionError,
    parse_definition,
    topological_order,
)
from runwire_workflow.domain.events import RunStatus
from runwire_workflow.domain.state import NodeState, WorkflowRun

YAML_MEDIA_TYPES: Final = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


def read_definition(body: bytes, content_type: str | None) -> Definition:
    """The definition in a request body: YAML for a YAML media type, JSON otherwise."""
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    is_yaml = media_type in YAML_MEDIA_TYPES
    try:
        raw: Any = msgspec.yaml.decode(body) if is_yaml else msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise DefinitionError(f"malformed {'YAML' if is_yaml else 'JSON'}: {exc}", field="body") from exc
    except UNDECODABLE as exc:
        raise DefinitionError(f"body {undecodable_reason(exc)}", field="body") from exc
    return parse_definition(raw)


class ApproveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An optional note with a gate's approval."""

    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RejectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the gate is rejected (the run fails with it)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "rejected"


class ValidatedDefinition(msgspec.Struct, kw_only=True):
    """A definition that passed validation, and the order its nodes may run in."""

    name: str
    nodes: int
    order: list[str]
    definition: Definition


class RunView(msgspec.Struct, kw_only=True):
    """A run as its events describe it now; `nodes` in definition order."""

    id: str
    project: str
    status: RunStatus
    name: str
    nodes: list[NodeState]
    outputs: dict[str, dict[str, Any]] | None
    error: str | None
    failed_node: str | None
    cancel_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    definition: Definition | None


class RunList(msgspec.Struct):
    """A project's runs, oldest first (without their definitions)."""

    runs: list[RunView]


def validated(definition: Definition) -> ValidatedDefinition:
    return ValidatedDefinition(
        name=definition.name,
        nodes=len(definition.nodes),
        order=topological_order(definition),
        definition=definition,
    )


def run_view(run: WorkflowRun, version: int, *, with_definition: bool = True) -> RunView:
    """The API projection of a run's state."""
    return RunView(
        id=run.id,
        project=run.project,
        status=run.status,
        name=run.definition.name if run.definition else "",
        nodes=list(run.nodes.values()),
        outputs=run.outputs,
        error=run.error,
        failed_node=run.failed_node,
        cancel_reason=run.cancel_reason,
        created_at=run.created_at,
        updated_at=run.updated_at,
        version=version,
        definition=run.definition if with_definition else None,
    )
