"""The process manager: drives workflow runs by sending commands and reacting to child events.

It never asks another service for its state. It starts ready nodes (in parallel where the graph
allows), creates their children over NATS, and reads the children's events from JetStream (one
follower for all runs) to complete or fail nodes. Timers (delays, gate timeouts) are re-armed
from the deadlines stored in the events, so a restart loses none; on start it resumes every
unfinished run and catches up on what its children did meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from runwire.contract.envelope import CloudEvent
from runwire.contract.rejections import Rejected
from runwire.contract.stored_check import stored_event
from runwire.contract.subjects import ROOT, parse_unchecked
from runwire.es.aggregate import Loaded, Repository
from runwire.es.background import KeyedTasks
from runwire.es.recovery import open_aggregates
from runwire.jetstream.commands import CommandFailed, CommandUnavailable
from runwire.jetstream.event_store import STREAM_NAME, StoreError
from runwire.jetstream.stream_reader import StreamReader
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
FOLLOWER_RESTART_SECONDS = 1.0

RunKey = tuple[str, str]


def now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class WorkflowManager:
    """Owns every run's side effects in this process; one lock per run serialises them."""

    repo: Repository[WorkflowRun, WorkflowEvent]
    nc: NATS
    config: WorkflowConfig
    dispatcher: Dispatcher
    timers: KeyedTasks = dataclasses.field(default_factory=lambda: KeyedTasks("workflow"))
    _locks: dict[RunKey, asyncio.Lock] = dataclasses.field(default_factory=dict)
    _children: dict[tuple[str, str], tuple[str, str]] = dataclasses.field(default_factory=dict)
    _finished: set[RunKey] = dataclasses.field(default_factory=set)
    _unanswered_since: dict[tuple[str, str, str], float] = dataclasses.field(default_factory=dict)
    _attempts: int = 0
    _follower: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Follow child events from now on, then (if configured) resume unfinished runs."""
        bounds = await self.repo.store.bounds()
        self._follower = asyncio.create_task(self._follow(bounds.last_seq + 1), name="workflow-follower")
        if self.config.recover:
            await self.recover()

    async def stop(self) -> None:
        """Stop following and cancel every timer (state is in the stream; nothing is lost)."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self.timers.close()

    def lock(self, project: str, run_id: str) -> asyncio.Lock:
        return self._locks.setdefault((project, run_id), asyncio.Lock())

    # ------------------------------------------------------------------------------- commands

    async def _execute(self, project: str, run_id: str, command: WorkflowCommand) -> WorkflowRun:
        outcome = await self.repo.execute(project, run_id, lambda run: decide(command, run))
        return outcome.state

    async def command(
        self, project: str, run_id: str, command: WorkflowCommand, *, id_seed: str | None = None
    ) -> tuple[Loaded[WorkflowRun], bool]:
        """Execute a user's command (create, gate decision, cancel) and carry the run on from there.

        Returns the run afterwards and whether the command recorded anything.
        """
        async with self.lock(project, run_id):
            outcome = await self.repo.execute(
                project, run_id, lambda run: decide(command, run), id_seed=id_seed
            )
            await self._reconcile(outcome.state)
        return await self.repo.load(project, run_id), bool(outcome.events)

    async def reconcile(self, project: str, run_id: str) -> None:
        """Bring the run's side effects in line with its state (idempotent)."""
        async with self.lock(project, run_id):
            await self._reconcile((await self.repo.load(project, run_id)).state)

    async def _reconcile(self, run: WorkflowRun) -> None:
        """Start ready nodes, create missing children, arm timers; on a terminal run, clean up."""
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
            self.timers.start((*key, "retry", self._attempts), lambda: self._retry(run.project, run.id))
            return run
        self._unanswered_since.pop(key, None)
        record = RecordChildState(node=node.id, child=child, state=state, seq=0, at=now())
        return await self._execute(run.project, run.id, record)

    async def _retry(self, project: str, run_id: str) -> None:
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)
        await self.reconcile(project, run_id)

    def _arm(self, run: WorkflowRun, node: NodeState, kind: str) -> None:
        """Start the node's timer unless it is running already (its deadline comes from the events)."""
        assert node.deadline is not None
        deadline = node.deadline
        project, run_id, node_id = run.project, run.id, node.id

        async def fire() -> None:
            await asyncio.sleep(max(0.0, (deadline - now()).total_seconds()))
            at = max(now(), deadline)  # a clock a hair behind the sleep must not miss the deadline
            command: WorkflowCommand = (
                ElapseDelay(node=node_id, at=at) if kind == "delay" else TimeoutGate(node=node_id, at=at)
            )
            async with self.lock(project, run_id):
                with contextlib.suppress(Rejected):
                    await self._execute(project, run_id, command)
                await self._reconcile((await self.repo.load(project, run_id)).state)

        self.timers.start((project, run_id, node_id), fire)

    async def _finish(self, run: WorkflowRun) -> None:
        """Once per run and process: stop its timers and cancel children that were left running."""
        key = (run.project, run.id)
        if key in self._finished:
            return
        self._finished.add(key)
        self._locks.pop(key, None)
        for node in run.nodes.values():
            self.timers.cancel((run.project, run.id, node.id))
            if node.child is not None:
                self._children.pop((run.project, node.child), None)
                if node.status == "cancelled" and node.kind in ("ingest", "agent"):
                    reason = f"workflow run {run.id} is {run.status}"
                    try:
                        await self.dispatcher.cancel(run.project, node.kind, node.child, reason)
                    except (CommandFailed, CommandUnavailable) as exc:
                        log.info("workflow %s: cancelling %s: %s", run.id, node.child, exc)

    # -------------------------------------------------------------------------- child events

    async def _follow(self, start_seq: int) -> None:
        """Read child events from `start_seq` on, for ever, reacting to those of known children."""
        filters = [f"{ROOT}.*.*.{pattern}" for pattern in CHILD_EVENT_PATTERNS]
        position = start_seq
        while True:
            reader = StreamReader(self.nc, STREAM_NAME, filters, start_seq=position, follow=True)
            try:
                async with contextlib.aclosing(reader.batches()) as batches:
                    async for batch in batches:
                        for message in batch:
                            position = message.seq + 1
                            subject = parse_unchecked(message.subject)
                            target = self._children.get((subject.project, subject.aggregate))
                            if target is not None and (event := stored_event(message)) is not None:
                                await self._react(subject.project, target, event, message.seq)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("workflow: following child events failed; restarting at %d", position)
                await asyncio.sleep(FOLLOWER_RESTART_SECONDS)

    async def _react(self, project: str, target: tuple[str, str], event: CloudEvent, seq: int) -> None:
        run_id, node_id = target
        command = reaction(node_id, event.aggregate, event, seq, now())
        if command is None:
            return
        async with self.lock(project, run_id):
            try:
                run = await self._execute(project, run_id, command)
            except Rejected as exc:
                log.debug("workflow %s: %s ignored: %s", run_id, event.type, exc)
                return
            except StoreError:
                log.exception("workflow %s: could not record %s", run_id, event.type)
                return
            await self._reconcile(run)

    # ------------------------------------------------------------------------------ recovery

    async def recover(self) -> int:
        """Resume every unfinished run: record the restart, catch up on child events, carry on."""
        unfinished = await open_aggregates(self.nc, "workflow.run.created", TERMINAL_TYPES)
        for project, run_id in unfinished:
            try:
                await self._resume(project, run_id)
            except Exception:
                log.exception("workflow %s/%s: could not resume", project, run_id)
        if unfinished:
            log.info("workflow: resumed %d unfinished run(s)", len(unfinished))
        return len(unfinished)

    async def _resume(self, project: str, run_id: str) -> None:
        async with self.lock(project, run_id):
            try:
                run = await self._execute(project, run_id, ResumeRun(at=now()))
            except Rejected:
                return
            for node in list(run.nodes.values()):
                if node.status != "running" or node.child is None:
                    continue
                self._children[(project, node.child)] = (run_id, node.id)
                for stored in await self.repo.store.read_aggregate(project, node.child):
                    command = reaction(node.id, node.child, stored.event, stored.seq, now())
                    if command is not None:
                        with contextlib.suppress(Rejected):
                            run = await self._execute(project, run_id, command)
            await self._reconcile(run)
