"""What may be asked of a workflow run: by users (create, decide a gate, cancel) and by its manager."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from runwire_workflow.domain.definition import Definition


class CreateRun(msgspec.Struct, frozen=True, kw_only=True):
    """Run `definition`; `fingerprint` identifies the request for idempotent retries."""

    definition: Definition
    fingerprint: str
    at: datetime


class StartNode(msgspec.Struct, frozen=True, kw_only=True):
    """Start a node whose dependencies completed (its input is their outputs)."""

    node: str
    at: datetime


class RecordChildState(msgspec.Struct, frozen=True, kw_only=True):
    """Mirror what the node's child reported: its id and state, from the child event at `seq`."""

    node: str
    child: str
    state: dict[str, Any]
    seq: int
    at: datetime


class CompleteNode(msgspec.Struct, frozen=True, kw_only=True):
    """The node's child completed with `output`."""

    node: str
    output: dict[str, Any]
    at: datetime


class FailNode(msgspec.Struct, frozen=True, kw_only=True):
    """The node cannot complete."""

    node: str
    error: str
    at: datetime


class ElapseDelay(msgspec.Struct, frozen=True, kw_only=True):
    """A delay node's timer fired."""

    node: str
    at: datetime


class DecideGate(msgspec.Struct, frozen=True, kw_only=True):
    """A human approved (or rejected) a paused gate."""

    node: str
    approve: bool
    by: str
    note: str = ""
    at: datetime


class TimeoutGate(msgspec.Struct, frozen=True, kw_only=True):
    """A paused gate's deadline passed without a decision."""

    node: str
    at: datetime


class ResumeRun(msgspec.Struct, frozen=True, kw_only=True):
    """The service restarted and picks the run up again."""

    at: datetime


class CancelRun(msgspec.Struct, frozen=True, kw_only=True):
    """Stop the run (and its children)."""

    reason: str
    by: str
    at: datetime


WorkflowCommand = (
    CreateRun
    | StartNode
    | RecordChildState
    | CompleteNode
    | FailNode
    | ElapseDelay
    | DecideGate
    | TimeoutGate
    | ResumeRun
    | CancelRun
)
