"""The agent service's tunables, from `RUNWIRE_AGENT_*` variables (see docs/domain-services.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from runwire.ops.tunables import load_tunables


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Pacing and limits of agent runs."""

    step_delay_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.1
    """Pause between steps, so that progress is visible live and cancellation lands between steps."""
    max_steps: Annotated[int, msgspec.Meta(ge=1, le=100)] = 12
    """Default step budget of a run; a run that needs more fails with that reason."""
    tool_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0
    """A tool call running longer fails its step."""
    approval_poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    """How often a run waiting for approval re-reads its events (approvals served elsewhere)."""
    share_work: bool = True
    """Take runs from the service's work queue shared by its replicas: new ones, and those of a
    replica that died. False: drive only the runs created through this process, take over none."""


def load_config(environ: Mapping[str, str] | None = None) -> AgentConfig:
    """The tunables from the environment (RUNWIRE_AGENT_STEP_DELAY_SECONDS etc.)."""
    return load_tunables(AgentConfig, "RUNWIRE_AGENT_", environ)
