"""The workflow service's tunables, from `RUNWIRE_WORKFLOW_*` variables (see docs/domain-services.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from runwire.ops.tunables import load_tunables


class WorkflowConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How the process manager talks to the ingest and agent services."""

    command_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 5.0
    """How long one command to a child service may take before it counts as unanswered."""
    command_retry_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 30.0
    """How long an unanswered command is retried (every second) before its node fails."""
    share_work: bool = True
    """Take runs from the service's work queue shared by its replicas: new ones, and those of a
    replica that died. False: drive only the runs created through this process, take over none."""


def load_config(environ: Mapping[str, str] | None = None) -> WorkflowConfig:
    """The tunables from the environment (RUNWIRE_WORKFLOW_COMMAND_TIMEOUT_SECONDS etc.)."""
    return load_tunables(WorkflowConfig, "RUNWIRE_WORKFLOW_", environ)
