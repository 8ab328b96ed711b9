"""Key-value buckets beside EVENTS, with the stream's replica count (DESIGN.md "Subjects and streams").

A bucket at R1 on a cluster would be lost with its one node while EVENTS survives; so a bucket is
created with as many replicas as EVENTS has, and, like EVENTS, an existing bucket is kept as it is.
"""

from __future__ import annotations

import dataclasses

import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from runwire.jetstream.event_store import EventStore


async def open_bucket(nc: NATS, config: KeyValueConfig) -> KeyValue:
    """The bucket `config.bucket`, created (safe from several processes) if it does not exist yet."""
    js = nc.jetstream()
    try:
        return await js.key_value(config.bucket)
    except nats.js.errors.BucketNotFoundError:
        replicas = await EventStore(nc).replicas()
        return await js.create_key_value(dataclasses.replace(config, replicas=replicas))
