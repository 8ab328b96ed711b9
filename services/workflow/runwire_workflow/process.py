"""The workflow service's process manager: drives runs by sending commands and reacting to child events.

It never asks another service for its state. It starts ready nodes (in parallel where the graph
allows), creates their children over NATS, and reads the children's events from JetStream (one
follower for all runs) to complete or fail nodes. Timers (delays, gate timeouts) are re-armed
from the deadlines stored in the events, so a restart loses none; on start it resumes every
run it takes over from another replica (or a restart) and catches up on what its children did
meanwhile. Only the replica holding a run's lease drives it (runwire.es.process).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from runwire.contract.rejections import Rejected
from runwire.contract.stored_check import stored_event
from runwire.contract.subjects import parse_unchecked
from runwire.es.application import Application
from runwire.es.process import ProcessManager, ProcessSettings
from runwire.jetstream.commands import CommandFailed, CommandUnavailable
from runwire.jetstream.stream_reader import StoredMessage
from runwire_workflow.children import CHILD_EVENT_PATTERNS, child_id, reaction
from runwire_workflow.config import WorkflowConfig
from runwire_workflow.dispatch import Dispatcher
from runwire_workflow.domain.commands import (
    ElapseDelay,
    FailNode,
    RecordChildState,
    ResumeRun,
    StartNode,
    TimeoutGate,
    WorkflowCommand,
)
from runwire_workflow.domain.decide import decide
from runwire_workflow.domain.events import TERMINAL_TYPES, WorkflowEvent
from runwire_workflow.domain.state import NodeState, WorkflowRun

log = logging.getLogger(__name__)

RETRY_INTERVAL_SECONDS = 1.0

RunKey = tuple[str, str]


def now() -> datetime:
    return datetime.now(UTC)


class WorkflowProcess(ProcessManager[WorkflowRun, WorkflowEvent]):
    """Owns every run's side effects in this process (under the kit's one lock per run)."""

    created_type = "workflow.run.created"
    terminal_types = TERMINAL_TYPES
    aggregate_types = "workflow.run.>"
    follows = CHILD_EVENT_PATTERNS

    def __init__(
        self,
        app: Application[WorkflowRun, WorkflowEvent],
        config: WorkflowConfig,
        dispatcher: Dispatcher,
        settings: ProcessSettings | None = None,
    ) -> None:
        super().__init__(app, "workflow", settings)
        self.config = config
        self.dispatcher = dispatcher
        self._children: dict[tuple[str, str], tuple[str, str]] = {}
        self._finished: set[RunKey] = set()
        self._unanswered_since: dict[tuple[str, str, str], float] = {}
        self._attempts = 0

    # ------------------------------------------------------------------------------- commands

    async def _execute(self, project: str, run_id: str, command: WorkflowCommand) -> WorkflowRun:
        """A command of the process itself (the run's lock is held already)."""
        outcome = await self.app.execute(project, run_id, lambda run: decide(command, run))
        return outcome.state

    async def carry_on(self, state: WorkflowRun) -> None:
        """Start ready nodes, create missing children, arm timers; on a terminal run, clean up."""
        run = state
        while True:
            if run.terminal:
                await self._finish(run)
                return
            for node in list(run.nodes.values()):
                if node.child is not None:
                    self._children[(run.project, node.child)] = (run.id, node.id)
                if node.status == "running" and node.kind in ("ingest", "agent") and node.child is None:
                    run = await self._dispatch(run, node)
                    if run.terminal:
                        break
                elif node.status == "running" and node.kind == "delay":
                    self._arm(run, node, "delay")
                elif node.status == "paused" and node.deadline is not None:
                    self._arm(run, node, "gate")
            if run.terminal:
                continue
            ready = run.ready()
            if not ready:
                return
            for node_id in ready:
                run = await self._execute(run.project, run.id, StartNode(node=node_id, at=now()))

    async def _dispatch(self, run: WorkflowRun, node: NodeState) -> WorkflowRun:
        """Create the node's child over NATS and record it; retry an unanswered command for a while."""
        child = child_id(run.id, node.id)
        self._children[(run.project, child)] = (run.id, node.id)
        key = (run.project, run.id, node.id)
        try:
            state = await self.dispatcher.create(run, node.id, child)
        except CommandFailed as exc:
            self._unanswered_since.pop(key, None)
            error = f"the {node.kind} service refused to create {child}: {exc.error.detail}"
            return await self._execute(run.project, run.id, FailNode(node=node.id, error=error, at=now()))
        except CommandUnavailable as exc:
            first = self._unanswered_since.setdefault(key, time.monotonic())
            if time.monotonic() - first >= self.config.command_retry_seconds:
                self._unanswered_since.pop(key, None)
                error = f"{exc} (retried for {self.config.command_retry_seconds:g}s)"
                return await self._execute(run.project, run.id, FailNode(node=node.id, error=error, at=now()))
            self._attempts += 1
            project, run_id = run.project, run.id

            async def retry() -> None:
                await self.carry_on((await self.app.state(project, run_id)).state)

            retry_at = now() + timedelta(seconds=RETRY_INTERVAL_SECONDS)
            self.timer(project, run_id, f"{node.id}/retry/{self._attempts}", retry_at, retry)
            return run
        self._unanswered_since.pop(key, None)
        record = RecordChildState(node=node.id, child=child, state=state, seq=0, at=now())
        return await self._execute(run.project, run.id, record)

    def _arm(self, run: WorkflowRun, node: NodeState, kind: str) -> None:
        """Start the node's timer unless it is running already (its deadline comes from the events)."""
        assert node.deadline is not None
        deadline = node.deadline
        project, run_id, node_id = run.project, run.id, node.id

        async def fire() -> None:
            at = max(now(), deadline)  # a clock a hair behind the sleep must not miss the deadline
            command: WorkflowCommand = (
                ElapseDelay(node=node_id, at=at) if kind == "delay" else TimeoutGate(node=node_id, at=at)
            )
            with contextlib.suppress(Rejected):
                await self._execute(project, run_id, command)
            await self.carry_on((await self.app.state(project, run_id)).state)

        self.timer(project, run_id, node_id, deadline, fire)

    async def _finish(self, run: WorkflowRun) -> None:
        """Once per run and process: stop its timers and cancel children that were left running."""
        key = (run.project, run.id)
        if key in self._finished:
            return
        self._finished.add(key)
        for node in run.nodes.values():
            self.cancel(run.project, run.id, node.id)
            if node.child is not None:
                self._children.pop((run.project, node.child), None)
                if node.status == "cancelled" and node.kind in ("ingest", "agent"):
                    reason = f"workflow run {run.id} is {run.status}"
                    try:
                        await self.dispatcher.cancel(run.project, node.kind, node.child, reason)
                    except (CommandFailed, CommandUnavailable) as exc:
                        log.info("workflow %s: cancelling %s: %s", run.id, node.child, exc)

    # -------------------------------------------------------------------------- child events

    async def react(self, message: StoredMessage) -> None:
        """A child's event, if the child is one of a run's nodes here: the command it asks of the run."""
        subject = parse_unchecked(message.subject)
        target = self._children.get((subject.project, subject.aggregate))
        if target is None or (event := stored_event(message)) is None:
            return
        project, (run_id, node_id) = subject.project, target
        command = reaction(node_id, event.aggregate, event, message.seq, now())
        if command is None or not self.owns(project, run_id):
            return  # a run driven by another replica: that replica reacts
        async with self.lock(project, run_id):
            try:
                run = await self._execute(project, run_id, command)
            except Rejected as exc:
                log.debug("workflow %s: %s ignored: %s", run_id, event.type, exc)
                return
            await self.carry_on(run)
            await self.settle(project, run_id)

    # ------------------------------------------------------------------------------ recovery

    async def resume(self, project: str, run_id: str) -> None:
        """Record the restart, catch up on the children's events meanwhile, carry on."""
        async with self.lock(project, run_id):
            try:
                run = await self._execute(project, run_id, ResumeRun(at=now()))
            except Rejected:
                return
            for node in list(run.nodes.values()):
                if node.status != "running" or node.child is None:
                    continue
                self._children[(project, node.child)] = (run_id, node.id)
                for stored in await self.app.repository.store.read_aggregate(project, node.child):
                    command = reaction(node.id, node.child, stored.event, stored.seq, now())
                    if command is not None:
                        with contextlib.suppress(Rejected):
                            run = await self._execute(project, run_id, command)
            await self.carry_on(run)
