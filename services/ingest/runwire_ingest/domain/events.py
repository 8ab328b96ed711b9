"""The events of an ingest job (`ingest.job.*`): the only record of what happened to it.

Its creation is the service's own; the events other services follow are contract
(runwire.contract.ingest), stated once there for both sides.
"""

from __future__ import annotations

from runwire.contract.domain_event import DomainEvent
from runwire.contract.ingest import JobCancelled, JobCompleted, JobFailed, JobUpdated


class JobCreated(DomainEvent, frozen=True, kw_only=True, tag="ingest.job.created"):
    """A document was submitted; it carries the text so the job can be (re)processed from the stream."""

    name: str
    text: str
    size_bytes: int
    chunk_size: int
    chunk_overlap: int
    fingerprint: str


JobEvent = JobCreated | JobUpdated | JobCompleted | JobFailed | JobCancelled
TERMINAL_TYPES = ("ingest.job.completed", "ingest.job.failed", "ingest.job.cancelled")
