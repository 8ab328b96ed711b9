"""The agent NATS commands (`runwire.cmd.agent.*`) that the workflow service drives runs with."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from runwire.contract.agent import CreateRunCommand
from runwire.jetstream.commands import CancelCommand, CommandFailed, command_subject, send_command
from runwire.jetstream.event_store import EventStore
from runwire_agent.api import RunView
from tests.integration.domain_services import types_of, wait_for_type


async def test_create_command_runs_the_named_run(
    agent_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateRunCommand(project=project, id="wf-1-answer", prompt="what is 2 + 2")
    view = await send_command(nc, command_subject("agent", "create"), command, RunView)
    assert (view.id, view.status) == ("wf-1-answer", "queued")
    stored = await wait_for_type(store, project, "wf-1-answer", "agent.run.completed")
    assert stored[-1].event.data["answer"] == "2 + 2 = 4."


async def test_repeated_create_command_creates_one_run(
    agent_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateRunCommand(project=project, id="wf-2-answer", prompt="what is 2 + 2")
    await send_command(nc, command_subject("agent", "create"), command, RunView)
    await send_command(nc, command_subject("agent", "create"), command, RunView)
    await wait_for_type(store, project, "wf-2-answer", "agent.run.completed")
    assert (await types_of(store, project, "wf-2-answer")).count("agent.run.created") == 1


async def test_cancel_command_of_a_finished_run_replies_409(
    agent_url: str, nc: NATS, store: EventStore, project: str
) -> None:
    command = CreateRunCommand(project=project, id="wf-3-answer", prompt="what is 2 + 2")
    await send_command(nc, command_subject("agent", "create"), command, RunView)
    await wait_for_type(store, project, "wf-3-answer", "agent.run.completed")
    with pytest.raises(CommandFailed) as caught:
        await send_command(
            nc, command_subject("agent", "cancel"), CancelCommand(project=project, id="wf-3-answer"), RunView
        )
    assert (caught.value.error.status, caught.value.error.kind) == (409, "invalid-transition")
