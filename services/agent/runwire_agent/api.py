"""The agent API's bodies (HTTP and NATS commands share them).

The create request and command, which other services send too, are contract (runwire.contract.agent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from runwire.contract.agent import RunReply, Text
from runwire_agent.domain.state import Approval, Message, Run, Step


class MessageRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A follow-up from the user; the policy takes it into account before answering."""

    content: Text


class ApproveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An optional note with an approval."""

    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RejectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the step is refused."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "rejected"


class RunView(RunReply, kw_only=True):
    """A run as its events describe it now.

    A RunReply first (id, project, status): what other services read of a command's reply.
    """

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
