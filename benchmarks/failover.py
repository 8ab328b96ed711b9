"""Live-tail fail-over on a 3-node cluster: run by hand, prints the stream gap per node kill.

    .venv/bin/python -m benchmarks.failover                         # both scenarios, 5 kills each
    .venv/bin/python -m benchmarks.failover --scenario consumer --repeat 3

It starts three nats-servers on free loopback ports (tests/support/nats_cluster.py), an R3 `EVENTS`
stream, a producer publishing paced events with acks (retrying with the same id until acked) and one
live-tail StreamReader, both connected to node A only, so their own connections survive. Then, per
repetition, it kill -9s either the node holding the reader's consumer (placed on another node than
A and than the stream leader, so that nothing else fails over) or the stream leader, and reports:

- stream gap: kill -> the reader yields the first event published after the kill (so an event in
  flight at the kill does not hide a stall);
- publish stall: the longest publish (start -> ack, retries included) acked after the kill (the
  stream gap of events published then cannot be shorter);
- whether the reader yielded every acked event exactly once, in order.

The killed node restarts before the next repetition. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from runwire.contract import subjects
from runwire.contract.envelope import new_event
from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, StoreError, StreamSettings
from runwire.jetstream.stream_reader import HEARTBEAT_SECONDS, StreamReader
from tests.support.nats_cluster import NatsCluster, nats_cluster

RATE = 50  # events a second


@dataclass
class Run:
    """One kill: what was killed and what the reader and the producer saw."""

    scenario: str
    killed: str
    roles: list[str]
    gap: float = float("nan")
    publish_stall: float = float("nan")
    exact: bool = False
    notes: list[str] = field(default_factory=list)


async def one_kill(cluster: NatsCluster, scenario: str, heartbeat: float | None) -> Run:
    await cluster.ready()
    leader = await cluster.stream_leader("EVENTS")
    meta = await cluster.meta_leader()
    if scenario == "consumer":
        target = next(node for node in cluster.nodes if node is not leader and node is not meta)
    else:
        target = meta if scenario == "meta" else leader
    node_a = next(node for node in cluster.nodes if node is not leader and node is not target)
    nc = await connect_nats([node_a.url], "failover-reader")
    producer_nc = await connect_nats([node_a.url], "failover-producer")
    store = EventStore(producer_nc)
    project = f"p-{uuid.uuid4().hex[:8]}"
    acked: list[tuple[int, float, float]] = []  # sequence, publish started, acked
    received: list[tuple[int, float]] = []
    stop = asyncio.Event()

    async def produce() -> None:
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            event = new_event(type="bench.tick", project=project, source="/bench", subject="a", data={"n": n})
            while True:
                try:
                    [result] = await store.publish_many([event])
                    break
                except (StoreError, TimeoutError):
                    await asyncio.sleep(0.05)
            acked.append((result.last_seq, started, time.monotonic()))
            n += 1
            await asyncio.sleep(1 / RATE)

    reader: StreamReader | None = None
    producing = asyncio.create_task(produce())
    try:
        for _ in range(40):  # place the consumer: on the target (leader: anywhere but A)
            reader = StreamReader(
                nc,
                "EVENTS",
                [subjects.project_filter(project)],
                start_seq=1,
                follow=True,
                heartbeat_seconds=heartbeat or HEARTBEAT_SECONDS,
            )
            batches = reader.batches()
            first = await anext(batches)
            received.extend((m.seq, time.monotonic()) for m in first)
            name = reader.consumer_name
            assert name is not None
            holder = await cluster.consumer_node(nc, "EVENTS", name)
            if holder is target or (scenario == "leader" and holder is not node_a):
                break
            await batches.aclose()
            received.clear()
        else:
            raise RuntimeError(f"could not place the consumer on {target.name}")

        async def consume() -> None:
            async for batch in batches:
                now = time.monotonic()
                received.extend((m.seq, now) for m in batch)

        consuming = asyncio.create_task(consume())
        victim = target
        roles = []
        if victim is leader:
            roles.append("stream leader")
        if victim is holder:
            roles.append("consumer")
        if victim is meta:
            roles.append("meta leader")
        await asyncio.sleep(1.5)  # pacing: let the tail run steadily before the kill
        killed_at = time.monotonic()
        cluster.kill(victim)
        run = Run(scenario, victim.name, roles)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            published_after = {seq for seq, started, _ in acked if started > killed_at}
            if any(seq in published_after for seq, _ in received):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(1)  # pacing: a second more of events after the recovery
        stop.set()
        await producing
        last = acked[-1][0]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not received or received[-1][0] < last):
            await asyncio.sleep(0.01)
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
        await batches.aclose()
        published_after = {seq for seq, started, _ in acked if started > killed_at}
        after = [at for seq, at in received if seq in published_after]
        run.gap = (after[0] - killed_at) if after else float("inf")
        around = [at - started for _, started, at in acked if at > killed_at]
        run.publish_stall = max(around) if around else float("inf")
        run.exact = [seq for seq, _ in received] == [seq for seq, _, _ in acked]
        cluster.start(victim)
        return run
    finally:
        stop.set()
        producing.cancel()
        with contextlib.suppress(asyncio.CancelledError, BaseException):
            await producing
        await nc.close()
        await producer_nc.close()


async def main(scenarios: list[str], repeat: int, heartbeat: float | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, nats_cluster(Path(tmp)) as cluster:
        await cluster.ready()
        nc = await connect_nats(cluster.urls, "failover-setup")
        await EventStore(nc).ensure_stream(StreamSettings(replicas=3))
        await nc.close()
        results: dict[str, list[Run]] = {scenario: [] for scenario in scenarios}
        for index in range(repeat):
            for scenario in scenarios:
                await cluster.settled("EVENTS")
                run = await one_kill(cluster, scenario, heartbeat)
                results[scenario].append(run)
                print(
                    f"{scenario:8} #{index + 1}: killed {run.killed} ({', '.join(run.roles)}): "
                    f"stream gap {run.gap:.2f} s, publish stall {run.publish_stall:.2f} s, "
                    f"exactly once in order: {run.exact}",
                    flush=True,
                )
        print()
        for scenario, runs in results.items():
            gaps = [run.gap for run in runs]
            stalls = [run.publish_stall for run in runs]
            print(
                f"{scenario:8}: stream gap median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s; "
                f"publish stall median {statistics.median(stalls):.2f} s, max {max(stalls):.2f} s; "
                f"{sum(run.exact for run in runs)}/{len(runs)} exact"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["consumer", "meta", "leader"], action="append")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--heartbeat", type=float, default=None, help="the reader's idle heartbeat (s)")
    parser.add_argument("--verbose", action="store_true", help="log the reader's recreations")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(name)s: %(message)s")
    asyncio.run(main(args.scenario or ["consumer", "meta", "leader"], args.repeat, args.heartbeat))
