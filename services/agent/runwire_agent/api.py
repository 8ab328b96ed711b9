"""The agent API's request and response bodies (HTTP and NATS commands share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from runwire.contract.envelope import Token
from runwire_agent.domain.events import RunStatus
from runwire_agent.domain.state import Approval, Message, Run, Step

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class CreateRunRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to ask the agent, which ingest jobs it may search, and (optionally) which policy and budget."""

    prompt: Text
    sources: Annotated[list[Token], msgspec.Meta(max_length=20, description="ingest job ids to search")] = []
    policy: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "deterministic"
    max_steps: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class CreateRunCommand(CreateRunRequest, kw_only=True, forbid_unknown_fields=True):
    """`runwire.cmd.agent.create`: create the run `id` (idempotent for the same request)."""

    project: Token
    id: Token


class MessageRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A follow-up from the user; the policy takes it into account before answering."""

    content: Text


class ApproveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An optional note with an approval."""

    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RejectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the step is refused."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "rejected"


class RunView(msgspec.Struct, kw_only=True):
    """A run as its events describe it now."""

    id: str
    project: str
    status: RunStatus
    prompt: str
    sources: list[str]
    policy: str
    max_steps: int
    messages: list[Message]
    steps: list[Step]
    pending_approval: Approval | None
    answer: str | None
    error: str | None
    cancel_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int


class RunList(msgspec.Struct):
    """A project's runs, oldest first."""

    runs: list[RunView]


def run_view(run: Run, version: int) -> RunView:
    """The API projection of a run's state."""
    fields: dict[str, Any] = {f: getattr(run, f) for f in run.__struct_fields__}
    fields |= {"sources": list(run.sources), "messages": list(run.messages), "steps": list(run.steps)}
    del fields["fingerprint"]
    return RunView(**fields, version=version)
