"""What the agent service and the services that use it say to each other.

The create command (`runwire.cmd.agent.create`, whose fields are also the HTTP body), the part of
its reply other services read, and the run events they react to. Owned here rather than by
runwire_agent so that a service creating runs imports no code of the agent service.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from runwire.contract.domain_event import DomainEvent, EventCodec
from runwire.contract.envelope import Token

SOURCE: Final = "/runwire/agent"

RunStatus = Literal["new", "queued", "running", "waiting_approval", "completed", "failed", "cancelled"]

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


class RunReply(msgspec.Struct, kw_only=True):
    """What another service reads of the run a command replies with (the full view has more fields)."""

    id: str
    project: str
    status: RunStatus


class RunUpdated(DomainEvent, frozen=True, kw_only=True, tag="agent.run.updated"):
    """The run's status changed (started, waiting for an approval, running again)."""

    status: RunStatus
    steps: int


class RunCompleted(DomainEvent, frozen=True, kw_only=True, tag="agent.run.completed"):
    """The policy gave its final answer."""

    answer: str
    steps: int


class RunFailed(DomainEvent, frozen=True, kw_only=True, tag="agent.run.failed"):
    """The run cannot go on; `error` says why."""

    error: str


class RunCancelled(DomainEvent, frozen=True, kw_only=True, tag="agent.run.cancelled"):
    """A user (or a workflow) cancelled the run."""

    reason: str
    by: str


# The run's status changes and how it ended (not its steps, messages or approvals): what followers react to.
RunProgressEvent = RunUpdated | RunCompleted | RunFailed | RunCancelled
RUN_PROGRESS: Final = EventCodec[RunProgressEvent](RunProgressEvent, SOURCE)
