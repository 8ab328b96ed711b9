"""`python -m runwire_dev.stream [--apply]`: the admin command that changes EVENTS' settings.

Services never change an existing stream (a process started with other settings would silently
downgrade it); an operator compares and applies here, with the same RUNWIRE_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from runwire.jetstream.connection import connect_nats
from runwire.jetstream.event_store import EventStore, stream_settings
from runwire.ops.settings import load_settings


async def run(apply: bool) -> int:
    settings = load_settings()
    if not settings.nats_servers:
        print("RUNWIRE_NATS_URL is not set: name the NATS server(s) of the stream to change", file=sys.stderr)
        return 2
    nc = await connect_nats(settings.nats_servers, "runwire-stream-admin")
    try:
        store = EventStore(nc)
        wanted = stream_settings(settings)
        if apply:
            changes = await store.apply_settings(wanted)
            for key, change in changes.items():
                print(f"{store.stream}: {key} {change.stream} -> {change.configured}")
            if not changes:
                print(f"{store.stream}: already as configured")
            return 0
        await store.ensure_stream(wanted)
        for key, drift in store.settings_drift.items():
            print(f"{store.stream}: {key} is {drift.stream}; RUNWIRE_* says {drift.configured}")
        if not store.settings_drift:
            print(f"{store.stream}: as configured")
        return 0
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m runwire_dev.stream", description=__doc__)
    parser.add_argument("--apply", action="store_true", help="change the stream to the RUNWIRE_* settings")
    raise SystemExit(asyncio.run(run(parser.parse_args().apply)))


if __name__ == "__main__":
    main()
