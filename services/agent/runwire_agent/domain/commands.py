"""What may be asked of an agent run; tool outputs, durations and times come in with the command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from runwire_agent.domain.events import Risk


class CreateRun(msgspec.Struct, frozen=True, kw_only=True):
    """Start a run on `prompt`; `fingerprint` identifies the request for idempotent retries."""

    prompt: str
    sources: list[str]
    policy: str
    max_steps: int
    fingerprint: str
    at: datetime


class StartRun(msgspec.Struct, frozen=True, kw_only=True):
    """The runner picked the queued run up."""

    at: datetime


class StartStep(msgspec.Struct, frozen=True, kw_only=True):
    """Run tool `tool` as step `index` (the next step, or the approved one)."""

    index: int
    tool: str
    input: dict[str, Any]
    at: datetime


class FinishStep(msgspec.Struct, frozen=True, kw_only=True):
    """Step `index` returned `output`, or failed with `error`."""

    index: int
    output: Any = None
    error: str | None = None
    duration_ms: float
    at: datetime


class RequestApproval(msgspec.Struct, frozen=True, kw_only=True):
    """The next step uses a risky tool: ask a human first."""

    index: int
    tool: str
    input: dict[str, Any]
    risk: Risk
    estimated_cost: float
    reason: str
    at: datetime


class Approve(msgspec.Struct, frozen=True, kw_only=True):
    """Let the pending step run."""

    by: str
    comment: str = ""
    at: datetime


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    """Refuse the pending step; the run goes on without it."""

    by: str
    reason: str
    at: datetime


class AppendMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A user's follow-up message to an unfinished run."""

    content: str
    at: datetime


class CompleteRun(msgspec.Struct, frozen=True, kw_only=True):
    """The policy's final answer."""

    answer: str
    at: datetime


class FailRun(msgspec.Struct, frozen=True, kw_only=True):
    """The run cannot go on."""

    error: str
    at: datetime


class CancelRun(msgspec.Struct, frozen=True, kw_only=True):
    """Stop the run."""

    reason: str
    by: str
    at: datetime


AgentCommand = (
    CreateRun
    | StartRun
    | StartStep
    | FinishStep
    | RequestApproval
    | Approve
    | Reject
    | AppendMessage
    | CompleteRun
    | FailRun
    | CancelRun
)
