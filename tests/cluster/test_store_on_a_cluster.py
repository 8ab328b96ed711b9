"""The event store on a 3-node JetStream cluster: optimistic concurrency, settings never downgraded."""

from __future__ import annotations

import asyncio
import uuid

from nats.js.api import KeyValueConfig

from runwire.contract.envelope import new_event
from runwire.jetstream.connection import RunwireNATS
from runwire.jetstream.event_store import (
    STREAM_NAME,
    EventStore,
    StreamSettingDrift,
    StreamSettings,
)
from runwire.jetstream.key_value import open_bucket

R3 = StreamSettings(replicas=3)


async def r3_store(nc: RunwireNATS) -> EventStore:
    store = EventStore(nc)
    await store.ensure_stream(R3)
    return store


async def test_raced_appends_on_r3_are_one_success_and_concurrency_errors(cluster_nc: RunwireNATS) -> None:
    store = await r3_store(cluster_nc)
    project, aggregate = f"p-{uuid.uuid4().hex[:8]}", "a1"
    events = [
        new_event(type="test.raced", project=project, source="/test", subject=aggregate, data={"n": n})
        for n in range(40)
    ]
    outcomes = await asyncio.gather(
        *(store.append([event], expected=0) for event in events), return_exceptions=True
    )
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    assert kinds == ["AppendResult"] + ["ConcurrencyError"] * 39


async def test_a_process_with_other_settings_keeps_the_r3_stream(cluster_nc: RunwireNATS) -> None:
    await r3_store(cluster_nc)
    downgrading = EventStore(cluster_nc)
    await downgrading.ensure_stream(StreamSettings(replicas=1))
    info = await cluster_nc.jetstream().stream_info(STREAM_NAME)
    assert info.config.num_replicas == 3
    assert downgrading.settings_drift == {"num_replicas": StreamSettingDrift(stream=3, configured=1)}


async def test_the_admin_command_changes_settings_explicitly(cluster_nc: RunwireNATS) -> None:
    store = await r3_store(cluster_nc)
    changes = await store.apply_settings(StreamSettings(replicas=3, max_msgs=1_000_000))
    try:
        info = await cluster_nc.jetstream().stream_info(STREAM_NAME)
        assert (changes["max_msgs"], info.config.max_msgs) == (StreamSettingDrift(-1, 1_000_000), 1_000_000)
    finally:
        await store.apply_settings(R3)


async def test_key_value_buckets_take_the_streams_replicas(cluster_nc: RunwireNATS) -> None:
    await r3_store(cluster_nc)
    bucket = f"test-{uuid.uuid4().hex[:8]}"
    await open_bucket(cluster_nc, KeyValueConfig(bucket=bucket, history=1))
    info = await cluster_nc.jetstream().stream_info(f"KV_{bucket}")
    assert info.config.num_replicas == 3
