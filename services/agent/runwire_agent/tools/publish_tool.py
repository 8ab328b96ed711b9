"""The `publish_report` tool (risky): writes the run's report to the `runwire-reports` key-value bucket.

Publishing makes the agent's words visible outside the run, so it waits for a human's approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType

from runwire.jetstream.key_value import open_bucket
from runwire_agent.domain.events import Risk
from runwire_agent.tools.toolbox import ToolContext, ToolFailed

BUCKET = "runwire-reports"
COST_BASE_USD = 0.01
COST_PER_KB_USD = 0.02


class PublishReportTool:
    """Stores `{"title": ..., "body": ...}` under `<project>.<run id>`."""

    name = "publish_report"
    description = "Publish a report for others to read (needs approval)."
    risk: Risk = "high"

    def __init__(self, nc: NATS) -> None:
        self._nc = nc

    def estimate_cost(self, arguments: Mapping[str, Any]) -> float:
        size = len(str(arguments.get("body", "")).encode())
        return round(COST_BASE_USD + COST_PER_KB_USD * size / 1024, 4)

    async def run(self, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        kv = await open_bucket(self._nc, KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE))
        key = f"{context.project}.{context.run_id}"
        report = msgspec.json.encode({"title": arguments.get("title", ""), "body": arguments.get("body", "")})
        try:
            revision = await kv.put(key, report)
        except nats.js.errors.Error as exc:
            raise ToolFailed(f"could not publish: {exc}") from exc
        return {"bucket": BUCKET, "key": key, "bytes": len(report), "revision": revision}
