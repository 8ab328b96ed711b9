"""The ingest NATS commands (`runwire.cmd.ingest.*`) that the workflow service drives jobs with."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from runwire.contract.ingest import CreateJobCommand
from runwire.jetstream.commands import (
    CancelCommand,
    CommandError,
    CommandFailed,
    command_subject,
    send_command,
)
from runwire.jetstream.event_store import EventStore
from runwire_ingest.api import JobView
from tests.integration.domain_services import types_of, wait_for_type


async def test_create_command_creates_the_named_job(
    ingest_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateJobCommand(project=project, id="wf-1-load", text="some text " * 30)
    view = await send_command(nc, command_subject("ingest", "create"), command, JobView)
    assert (view.id, view.status) == ("wf-1-load", "queued")
    await wait_for_type(store, project, "wf-1-load", "ingest.job.completed")


async def test_repeated_create_command_creates_one_job(
    ingest_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateJobCommand(project=project, id="wf-2-load", text="some text " * 30)
    await send_command(nc, command_subject("ingest", "create"), command, JobView)
    await send_command(nc, command_subject("ingest", "create"), command, JobView)
    await wait_for_type(store, project, "wf-2-load", "ingest.job.completed")
    assert (await types_of(store, project, "wf-2-load")).count("ingest.job.created") == 1


async def test_cancel_command_of_an_unknown_job_replies_404(ingest_url: str, nc: NATS, project: str) -> None:
    with pytest.raises(CommandFailed) as caught:
        await send_command(
            nc, command_subject("ingest", "cancel"), CancelCommand(project=project, id="nope"), JobView
        )
    assert caught.value.error == CommandError(
        404, "not-found", f"ingest job nope not found in project {project}"
    )


async def test_invalid_create_command_replies_400(ingest_url: str, nc: NATS, project: str) -> None:
    command = CreateJobCommand(project=project, id="bad id with spaces", text="x")
    with pytest.raises(CommandFailed) as caught:
        await send_command(nc, command_subject("ingest", "create"), command, JobView)
    assert (caught.value.error.status, caught.value.error.kind) == (400, "invalid-input")
